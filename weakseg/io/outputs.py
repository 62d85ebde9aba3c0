"""Write outputs all-or-nothing, so a failed step never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


def _staging_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def staged_outputs(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Yield staging paths for ``paths``; move them into place only if the block succeeds.

    Each staging path is a hidden sibling (``.NAME.partial``) of its final path, so the
    final move is a same-filesystem rename. If the block raises, every staging path is
    removed and the final paths are left untouched, then the exception propagates.
    Parent folders are created. A path that was a folder in the block (``mkdir`` on the
    staging path) is moved as a folder, replacing any earlier one.
    """
    finals = [Path(p) for p in paths]
    staged = [_staging_path(p) for p in finals]
    for final, stage in zip(finals, staged, strict=False):
        final.parent.mkdir(parents=True, exist_ok=True)
        _remove(stage)
    try:
        yield staged
    except BaseException:
        for stage in staged:
            _remove(stage)
        raise
    for final, stage in zip(finals, staged, strict=False):
        if not stage.exists():
            raise RuntimeError(f"step finished without writing its output {final}")
    for final, stage in zip(finals, staged, strict=False):
        _remove(final)
        os.replace(stage, final)


def write_json(path, data: dict) -> None:
    """Write ``data`` as indented JSON with sorted keys, so reruns give byte-identical files."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
