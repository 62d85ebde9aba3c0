"""One optimiser step's loss, for every mode and method: the plain losses and the method's hooks.

The training loop (:mod:`weakseg.learn.training`) is the same for every run; what a step
computes comes from here: the mode's losses (:func:`loss_functions`) and the run's method
(:class:`weakseg.methods.method.Method`: which images go through the one forward pass, and the
loss of their logits). Runs without a method with options (the controls, ``weak_finetuned``,
``joint``) take the base :class:`~weakseg.methods.method.Method`'s plain step.
"""

from __future__ import annotations

import torch

from weakseg.learn.inference import autocast_dtype, to_device
from weakseg.learn.losses import SegmentationLoss, joint_loss
from weakseg.learn.tile_data import draw_seed
from weakseg.methods import get_method
from weakseg.methods.method import Method
from weakseg.weak import get_weak_kind


def loss_functions(mode: str, cfg: dict, binary: bool = False, method: Method | None = None):
    """``(step_loss(logits, batch, weak_batch), val_loss(logits, batch), pixel_loss)`` for ``mode``.

    ``method``'s :meth:`~weakseg.methods.method.Method.weak_loss` replaces the kind's loss on
    weak batches when it gives one (a pseudo-mask student's cross-entropy). ``pixel_loss`` is
    None in weak mode.
    """
    if mode != "strong":
        kind, options = get_weak_kind(cfg["weak_kind"]), cfg["weak_options"]
        own = method.weak_loss(kind, options) if method is not None else None

        def kind_loss(logits, labels):
            labels = labels.to(logits.device, non_blocking=True)
            return own(logits, labels) if own is not None else kind.loss(logits, labels, options)

    if mode == "weak":

        def weak_loss(logits, batch, _=None):
            return kind_loss(logits, batch["weak_label"])

        return weak_loss, weak_loss, None
    pixel = SegmentationLoss(cfg["loss"], binary)

    def val_loss(logits, batch):
        return pixel(logits, batch["mask"].to(logits.device, non_blocking=True))

    if mode == "strong":
        return (lambda logits, batch, _=None: val_loss(logits, batch)), val_loss, pixel

    def step_loss(logits, batch, weak_batch):
        strong, weak = logits[: len(batch["image"])], logits[len(batch["image"]) :]
        masks = batch["mask"].to(logits.device, non_blocking=True)
        return joint_loss(strong, masks, weak, weak_batch["weak_label"], pixel, kind_loss, cfg["joint_weight"])

    return step_loss, val_loss, pixel


def run_method(cfg: dict) -> Method:
    """The method whose step a run takes: ``training.method`` when set, else the plain :class:`Method`."""
    return get_method(cfg["method"]) if cfg.get("method") else Method()


class Step:
    """One step's loss: the method prepares the batches, one forward pass over its inputs, the method's loss.

    Args:
        method: the run's method; options: its ``methods.<name>`` section (empty without one).
        base_loss: the mode's ``step_loss`` of :func:`loss_functions`; pixel_loss: its pixel loss.
        weak_label: whether the run's kind has a label (False for ``unlabelled``).
        seed: the run's seed; each step's generator (CutMix draws) is seeded by ``(seed, epoch, step)``,
            so a resumed run draws what the uninterrupted run drew.
    """

    def __init__(self, method: Method, options: dict, base_loss, pixel_loss, weak_label: bool, seed: int):
        self.method, self.options = method, options
        self.base_loss = lambda parts, *batches: base_loss(torch.cat(parts), *batches)
        self.pixel_loss, self.weak_label, self.seed = pixel_loss, weak_label, seed

    def __call__(self, model, batches: list[dict], device: torch.device, extras: dict, epoch: int, step: int):
        """The scalar loss of ``batches`` (a strong batch, then a weak batch in joint mode) under ``model``."""
        generator = torch.Generator().manual_seed(draw_seed(self.seed, epoch, step) % 2**63)
        self.method.prepare_step(batches, self.options, generator)
        inputs = self.method.step_inputs(batches)
        logits = _forward(model, torch.cat(inputs), device)
        parts = list(torch.split(logits, [len(x) for x in inputs]))
        context = {
            "options": self.options,
            "extras": extras,
            "generator": generator,
            "weak_label": self.weak_label,
            "pixel_loss": self.pixel_loss,
            "forward": lambda module, images: _forward(module, images, device),
        }
        return self.method.step_loss(parts, batches, self.base_loss, context)


def _forward(model, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(B, K, H, W) float32 logits of ``model`` on (B, C, H, W) pixel values, under the device's autocast."""
    dtype = autocast_dtype(device)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        logits = model(to_device(images, device))
    return logits.float()
