"""Write outputs all-or-nothing, so a failed step never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from weakseg.io.errors import WeaksegError


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
    removed and the final paths are left untouched, then the exception propagates. An earlier
    output that is write-protected is not replaced (:func:`_check_replaceable`).
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
    try:
        for final in finals:
            _check_replaceable(final)
    except WeaksegError:
        for stage in staged:
            _remove(stage)
        raise
    for final, stage in zip(finals, staged, strict=False):
        _remove(final)
        os.replace(stage, final)


def _check_replaceable(final: Path) -> None:
    """Refuse to replace an earlier output that is write-protected, before any of it is removed.

    Snakemake does not overwrite write-protected outputs either (its ``protected()``); the
    check names the file itself, where a failed ``shutil.rmtree`` names only its base name, and
    leaves the earlier output whole instead of half deleted.

    Raises:
        WeaksegError: naming the read-only or immutable path (``chattr +i`` makes even root's
            ``os.access`` fail) and how to release it.
    """
    if not (final.exists() or final.is_symlink()):
        return
    entries = [final.parent, final]
    if final.is_dir() and not final.is_symlink():
        entries += [Path(root) / name for root, dirs, files in os.walk(final) for name in (*dirs, *files)]
    for entry in entries:
        if not entry.is_symlink() and not os.access(entry, os.W_OK):
            raise WeaksegError(
                f"{entry}: an earlier output here is write-protected (read-only or immutable), so {final} is not "
                f"replaced; make it writable (chmod -R u+w / chattr -R -i {final}) or move it away, then rerun "
                "(nothing was changed)"
            )


def write_json(path, data: dict) -> None:
    """Write ``data`` as indented JSON with sorted keys, so reruns give byte-identical files."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
