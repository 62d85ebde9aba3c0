"""Pretraining on weak labels, then finetuning on the pixel labels (the study's first method).

``weak_only`` trains on the weak set's weak labels alone (the kind's loss, e.g. the label
proportions' pooled cross-entropy); ``weak_finetuned`` starts from its weights and takes the
baseline's schedule on the strong set. Its shuffled-label control repeats both with the weak
labels permuted among the weak tiles.
"""

from __future__ import annotations

from weakseg.methods.method import Method, Variant


class PretrainFinetune(Method):
    """Weak pretraining, then the strong schedule (see the module docstring)."""

    name = "pretrain_finetune"
    title = "pretrain, then finetune"
    verb = "pretraining on"
    arm = "weak_finetuned"
    controls = ("shuffled_labels",)
    citation = "weak pretraining then finetuning, e.g. Ahn & Kwak 2018's two stages collapsed into one network"
    variants = (
        Variant(
            "weak_only", (), ("weak",), "pretraining", None, True, "weak loss on the weak set (its weak labels only)"
        ),
        Variant(
            "shuffled_weak_only",
            (),
            ("weak",),
            "pretraining",
            None,
            True,
            "weak_only with each tile's weak label taken from another weak tile",
            shuffled=True,
        ),
        Variant(
            "shuffled_labels",
            ("strong",),
            (),
            "training",
            "shuffled_weak_only",
            True,
            "control: weak_finetuned's schedule on shuffled weak labels (same images and steps, no information)",
        ),
        Variant(
            "weak_finetuned",
            ("strong",),
            (),
            "training",
            "weak_only",
            True,
            "weak_only's weights, then the strong_only schedule on the strong set",
            method="pretrain_finetune",
        ),
    )


PRETRAIN_FINETUNE = PretrainFinetune()
