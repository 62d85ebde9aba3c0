"""Joint training: each step sums the pixel loss on a strong batch and the weak loss on a weak batch."""

from __future__ import annotations

from weakseg.methods.method import Method, Variant, matched_control


class Joint(Method):
    """One network, both losses in every step (``experiment.joint_weight`` x the weak loss)."""

    name = "joint"
    title = "joint training"
    verb = "joint training with"
    arm = "joint"
    citation = "multi-task training on pixel and weak labels, e.g. Papandreou et al. 2015 (semi-supervised EM)"
    compute_control = "matched_joint"
    variants = (
        matched_control("joint", "joint"),
        Variant(
            "joint",
            ("strong",),
            ("weak",),
            "training",
            None,
            True,
            "each step: pixel loss on a strong batch + joint_weight x weak loss on a weak batch",
            method="joint",
        ),
    )


JOINT = Joint()
