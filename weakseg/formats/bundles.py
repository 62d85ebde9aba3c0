"""File bundles: the named files one stage writes and the next reads, as small frozen records.

A rule names every file it reads and writes (``rules/*.smk``); its stage builds the bundles
here from those names with :meth:`FileBundle.of` and hands them to the library, which opens
``bundle.images`` and never rebuilds a file name from a folder. A file's name is thus written
once, in its rule, and renaming it there renames it everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from weakseg.io.errors import WeaksegError

B = TypeVar("B", bound="FileBundle")


@dataclass(frozen=True)
class FileBundle:
    """Base of the bundles: fields are paths, picked by name from a rule's named files."""

    @classmethod
    def of(cls: type[B], files: Any, key: str = "{}", complete: bool = False) -> B:
        """The bundle of a rule's named files.

        Args:
            files: the rule's named inputs or outputs, a mapping or a namespace of name -> path
                (a stage's ``input``/``output``).
            key: how the rule names a field: ``"{}"`` (the field's name) or e.g. ``"offline_{}"``.
            complete: require every field, optional ones too (the stage that writes the bundle).

        Raises:
            WeaksegError: a required field has no file of that name (a rule and its stage disagree).
        """
        named = files if isinstance(files, Mapping) else vars(files)
        values, missing = {}, []
        for entry in dataclasses.fields(cls):
            name = key.format(entry.name)
            if name in named and named[name] is not None:
                values[entry.name] = Path(named[name])
            elif complete or entry.default is dataclasses.MISSING:
                missing.append(name)
        if missing:
            raise WeaksegError(
                f"{cls.__name__}: the rule names no file {', '.join(missing)} (it names {', '.join(sorted(named))}); "
                "the rule and its stage module disagree"
            )
        return cls(**values)


@dataclass(frozen=True)
class TileFiles(FileBundle):
    """The ``tile`` rule's outputs; a reader names only those it reads.

    Attributes:
        tiles: ``tiles.csv``, one row per tile (:mod:`weakseg.formats.tiles`).
        images: (N, T, T, C) uint8 ``.npy``; masks: (N, T, T) uint8 ``.npy`` (255 = ignore).
        class_pixels: (N, K) int64 ``.npy``, labelled pixels per class and tile.
    """

    tiles: Path
    images: Path | None = None
    masks: Path | None = None
    class_pixels: Path | None = None


@dataclass(frozen=True)
class Pipelines(FileBundle):
    """The ``augment`` rule's albumentations pipelines (YAML): ``strong`` (pixel-labelled tiles), ``weak``."""

    strong: Path
    weak: Path

    def of_pipeline(self, name: str) -> Path:
        """The pipeline file of ``strong`` or ``weak``."""
        return {"strong": self.strong, "weak": self.weak}[name]


@dataclass(frozen=True)
class OfflineCopies(FileBundle):
    """The ``augment`` rule's offline copies: (M, T, T, C) ``images``, (M, T, T) ``masks`` and ``copies`` CSV."""

    images: Path
    masks: Path
    copies: Path


@dataclass(frozen=True)
class TrainingFiles:
    """Everything a run trains on: tiles, split, pipelines, offline copies, and its kind's weak labels (or None).

    ``weak_masks``: a dense kind's (N, T, T) uint8 weak masks (the ``weak_masks`` rule's), else None.
    ``pseudo_masks``: a pseudo-mask student's (N, T, T) uint8 pseudo-masks (the ``pseudo_masks`` rule's), else None.
    """

    tiles: TileFiles
    splits: Path
    pipelines: Pipelines
    offline: OfflineCopies
    weak_labels: Path | None = None
    weak_masks: Path | None = None
    pseudo_masks: Path | None = None

    @classmethod
    def of(cls, files: Any) -> TrainingFiles:
        """From a train job's named inputs (``rules/common.smk``: ``train_inputs``).

        Raises:
            WeaksegError: see :meth:`FileBundle.of`.
        """
        named = files if isinstance(files, Mapping) else vars(files)
        optional = {key: named.get(key) for key in ("weak_labels", "weak_masks", "pseudo_masks")}
        return cls(
            TileFiles.of(named),
            Path(named["splits"]),
            Pipelines.of(named, "{}_pipeline"),
            OfflineCopies.of(named, "offline_{}"),
            **{key: None if path is None else Path(path) for key, path in optional.items()},
        )


@dataclass(frozen=True)
class RunFiles(FileBundle):
    """The ``train`` rule's outputs: scored ``model``, ``last`` checkpoint, ``history`` CSV, ``tensorboard`` folder.

    The run's working state (checkpoints to resume from) lives in :attr:`resume`, beside them.
    """

    model: Path
    last: Path
    history: Path
    tensorboard: Path

    @property
    def resume(self) -> Path:
        """The folder of the run's resumable state, next to ``model``."""
        return self.model.parent / "resume"


@dataclass(frozen=True)
class EvaluationFiles(FileBundle):
    """The ``evaluate`` rule's outputs: ``metrics`` JSON, ``per_class``/``confusion`` CSV, ``predictions`` folder."""

    metrics: Path
    per_class: Path
    confusion: Path
    predictions: Path


@dataclass(frozen=True)
class EvaluationInputs:
    """What an evaluate job scores: the run's ``model``, the tiles, the split, and the prepared scenes.

    Attributes:
        scenes: scene id -> (prepared image, prepared label) ``.npy`` at the original size, for
            whole-scene scoring (``evaluation.mode: scenes``); empty when tiles are scored.
    """

    model: Path
    tiles: TileFiles
    splits: Path
    scenes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
