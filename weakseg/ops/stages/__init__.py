"""The stages, one module per rule: each defines its parameters once and runs the stage.

:data:`STAGES` maps a rule's name to its :class:`weakseg.ops.stage.Stage`; the rules build
their ``params.call`` from it (``rules/common.smk``) and ``scripts/<rule>.py`` runs it.
"""

from __future__ import annotations

import importlib

from weakseg.ops.stage import Stage

#: Rule name -> module of its stage (each module defines ``STAGE``).
STAGE_MODULES = {
    name: f"weakseg.ops.stages.{name}"
    for name in (
        "download",
        "prepare",
        "prepare_scoring",
        "tile",
        "split",
        "weak_masks",
        "weak_labels",
        "augment",
        "stats",
        "train",
        "pseudo_masks",
        "pseudo_mask_audit",
        "evaluate",
        "summary",
        "report",
        "predict",
    )
}


def get_stage(name: str) -> Stage:
    """The :class:`Stage` of rule ``name``.

    Raises:
        KeyError: no stage of that name.
    """
    return importlib.import_module(STAGE_MODULES[name]).STAGE
