"""How a trained run is applied and scored: the sliding-window setting and the evaluation setting.

One :class:`Windows` record serves the ``evaluate`` stage (whole-scene scoring) and the
``predict`` stage; both stages' params hold it, so ``evaluation.window`` and
``evaluation.overlap`` are read in one place (:meth:`Windows.from_config`). Plain records
without torch: the Snakefile builds them when it plans.
"""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.design.experiment import HELD_OUT
from weakseg.io.errors import WeaksegError

#: The sets a run may be scored on (``test`` when the split has one, else ``val``).
SCORED_SETS = HELD_OUT


@dataclass(frozen=True)
class Windows:
    """Sliding-window inference (:mod:`weakseg.learn.sliding_window`).

    Attributes:
        window: window side, pixels at model scale.
        overlap: share of the window two neighbours overlap, in [0, 1).
        batch_size: windows per forward pass.
        shorter_side: the model scale, pixels (``tiling.shorter_side``); None: the image's own size.
    """

    window: int
    overlap: float
    batch_size: int
    shorter_side: int | None = None

    @classmethod
    def from_config(cls, config: dict, batch_size: int) -> Windows:
        """``evaluation.{window, overlap}`` and ``tiling.shorter_side``, with the stage's ``batch_size``."""
        evaluation = config["evaluation"]
        return cls(evaluation["window"], evaluation["overlap"], batch_size, config["tiling"]["shorter_side"])


@dataclass(frozen=True)
class Scoring:
    """How the ``evaluate`` stage scores a run.

    Attributes:
        scored_set: ``test`` when the split has a test set (every reported number then comes
            from it), else ``val``.
        batch_size: tiles per forward pass; gallery_tiles: predictions drawn per run.
        device: ``training.device`` (``auto``: CUDA when there is one).
        windows: ``evaluation.mode: scenes``: whole scenes are scored by sliding window (the
            proportion MAE and the gallery still come from the tiles); None: tiles are scored.
        protocol: how the numbers are made (label sets, classes, split), copied into
            ``metrics.json`` (:func:`weakseg.formats.protocol.protocol_card`).

    Raises:
        WeaksegError: a scored set other than :data:`SCORED_SETS`.
    """

    scored_set: str = "val"
    batch_size: int = 64
    gallery_tiles: int = 6
    device: str = "auto"
    windows: Windows | None = None
    protocol: dict | None = None

    def __post_init__(self) -> None:
        if self.scored_set not in SCORED_SETS:
            raise WeaksegError(f"scored set {self.scored_set!r} is not one of {', '.join(SCORED_SETS)}")
