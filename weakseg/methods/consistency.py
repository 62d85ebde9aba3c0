"""Weak-to-strong consistency (FixMatch) on the weak tiles, with the kind's weak loss beside it.

Each step takes a strong batch (pixel loss), a weak batch in its weakly augmented view (the weak
pipeline: flips and colour), and the same weak tiles in a *strongly* augmented view: the weak
view, then strong photometric changes (colour jitter, grey, blur, through albumentations:
:func:`weakseg.data.augmentation.strong_view_pipeline`) and, with probability ``cutmix``, a
CutMix box pasted from another tile of the batch. Geometry is shared by both views, so a pixel
of one is the same pixel of the other. The teacher's prediction on the weak view gives a
pseudo-label per pixel; where its softmax confidence is at least ``threshold`` the student's
prediction on the strong view is trained towards it (cross-entropy, averaged over all pixels,
FixMatch's unlabelled loss):

    loss = pixel loss + joint_weight x weak loss (if the kind has a label) + weight x consistency

The teacher is the student itself (its logits on the weak view, without gradient: FixMatch,
Sohn et al., NeurIPS 2020), or with ``ema`` > 0 an exponential moving average of the student
(Mean Teacher, Tarvainen & Valpola, NeurIPS 2017: teacher = ema x teacher + (1 - ema) x
student after every step). Defaults follow FixMatch (threshold 0.95, weight 1) and UniMatch
(Yang et al., CVPR 2023: CutMix with probability 0.5, box area 2-40% of the tile). With the
``unlabelled`` kind (no label) this is the semi-supervised competitor every weak label must beat.
"""

from __future__ import annotations

import math

from weakseg.methods.method import Method, Variant, matched_control

#: CutMix box area as a share of the tile (UniMatch's ``obtain_cutmix_box``: 0.02 to 0.4).
BOX_AREA = (0.02, 0.4)
#: CutMix box aspect ratio (height / width), log-uniform in (0.3, 1 / 0.3) (UniMatch).
BOX_ASPECT = 0.3


def cutmix_box(height: int, width: int, generator) -> tuple[int, int, int, int]:
    """``(top, left, box_height, box_width)`` of one CutMix box in an (H, W) tile, px, drawn from ``generator``.

    Area uniform in :data:`BOX_AREA` of the tile, aspect log-uniform in (BOX_ASPECT, 1 / BOX_ASPECT),
    clipped to the tile (Yun et al., "CutMix", ICCV 2019; UniMatch's box sampler).
    """
    import torch

    u = torch.rand(4, generator=generator).tolist()
    area = (BOX_AREA[0] + u[0] * (BOX_AREA[1] - BOX_AREA[0])) * height * width
    aspect = math.exp(math.log(BOX_ASPECT) + u[1] * 2 * math.log(1 / BOX_ASPECT))
    box_h = max(1, min(height, round(math.sqrt(area * aspect))))
    box_w = max(1, min(width, round(math.sqrt(area / aspect))))
    return int(u[2] * (height - box_h + 1)), int(u[3] * (width - box_w + 1)), box_h, box_w


def paste_box(target, source, box: tuple[int, int, int, int]):
    """``target`` with ``box`` (top, left, h, w) replaced by ``source``'s pixels ((B, ..., H, W) tensors alike)."""
    top, left, h, w = box
    mixed = target.clone()
    mixed[..., top : top + h, left : left + w] = source[..., top : top + h, left : left + w]
    return mixed


def consistency_loss(student_logits, teacher_logits, threshold: float):
    """FixMatch's unlabelled loss on (B, K, H, W) logits: CE to the teacher's argmax where confident.

    Pixels count where the teacher's top softmax probability is at least ``threshold``.

    Averaged over every pixel (pixels under the threshold add 0), as in FixMatch (Sohn et al.
    2020, eq. 4); the teacher's logits carry no gradient. Returns a scalar tensor.
    """
    import torch
    import torch.nn.functional as F

    confidence, pseudo = torch.softmax(teacher_logits.detach().float(), dim=1).max(dim=1)
    per_pixel = F.cross_entropy(student_logits.float(), pseudo, reduction="none")
    return (per_pixel * (confidence >= threshold)).mean()


def ema_update(teacher, student, decay: float) -> None:
    """Mean Teacher's update, in place: each teacher parameter <- decay x itself + (1 - decay) x the student's.

    Buffers (batch-norm statistics) are copied from the student (Tarvainen & Valpola 2017).
    """
    import torch

    with torch.no_grad():
        for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
            t.mul_(decay).add_(s.detach(), alpha=1 - decay)
        for t, s in zip(teacher.buffers(), student.buffers(), strict=True):
            t.copy_(s)


class Consistency(Method):
    """FixMatch / Mean Teacher consistency beside the kind's weak loss (see the module docstring)."""

    name = "consistency"
    title = "weak-to-strong consistency (FixMatch)"
    verb = "consistency training with"
    arm = "consistency"
    citation = "Sohn et al. 2020 (FixMatch); Tarvainen & Valpola 2017 (Mean Teacher); Yang et al. 2023 (UniMatch)"
    has_options = True
    strong_view = True
    compute_control = "matched_consistency"
    variants = (
        matched_control("consistency", "consistency"),
        Variant(
            "consistency",
            ("strong",),
            ("weak",),
            "training",
            None,
            True,
            "joint plus FixMatch consistency: the teacher's confident weak-view predictions train the strong view",
            method="consistency",
        ),
    )

    def batches_per_step(self, mode: str) -> int:
        """3: the strong batch, the weak view and the strong view (the teacher's pass is not a training image)."""
        return 3

    def step_inputs(self, batches: list[dict]) -> list:
        """Strong batch, weak view, and the strong view (CutMix is applied in :meth:`step_loss`'s order)."""
        return [batches[0]["image"], batches[1]["image"], batches[1]["strong_view"]]

    def step_loss(self, parts: list, batches: list[dict], base_loss, context: dict):
        """The mode's loss (the pixel loss alone for a kind without a label) + ``weight`` x :func:`consistency_loss`."""
        import torch

        options = context["options"]
        strong, weak, view = parts
        if context["weak_label"]:
            loss = base_loss([strong, weak], *batches)
        else:
            loss = context["pixel_loss"](strong, batches[0]["mask"].to(strong.device))
        teacher = context["extras"].get("teacher")
        if teacher is None:
            target = weak.detach()
        else:
            with torch.no_grad():
                target = context["forward"](teacher, batches[1]["image"])
        box = batches[1].get("cutmix_box")
        if box is not None:
            target = paste_box(target, target.roll(1, dims=0), box)
        return loss + float(options["weight"]) * consistency_loss(view, target, float(options["threshold"]))

    def prepare_step(self, batches: list[dict], options: dict, generator) -> None:
        """CutMix on the strong views in place: with probability ``cutmix``, a box from the next tile of the batch.

        Only the view is mixed here; :meth:`step_loss` mixes the teacher's target with the same box
        (kept on the batch as ``cutmix_box``).
        """
        import torch

        weak = batches[1]
        weak.pop("cutmix_box", None)
        if float(torch.rand(1, generator=generator)) >= float(options["cutmix"]) or len(weak["strong_view"]) < 2:
            return
        box = cutmix_box(*weak["strong_view"].shape[-2:], generator)
        weak["strong_view"] = paste_box(weak["strong_view"], weak["strong_view"].roll(1, dims=0), box)
        weak["cutmix_box"] = box

    def extra_modules(self, model, options: dict) -> dict:
        """An EMA teacher (a copy of the student, no gradient) when ``ema`` > 0."""
        if float(options["ema"]) <= 0:
            return {}
        import copy

        teacher = copy.deepcopy(model)
        teacher.requires_grad_(False)
        return {"teacher": teacher.eval()}

    def after_step(self, model, extras: dict, options: dict) -> None:
        """:func:`ema_update` of the teacher, if any."""
        if "teacher" in extras:
            ema_update(extras["teacher"], model, float(options["ema"]))


CONSISTENCY = Consistency()
