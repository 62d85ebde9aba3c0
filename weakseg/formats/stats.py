"""``stats.json``: per-band mean and standard deviation of a split's training tiles (the ``stats`` stage)."""

from __future__ import annotations

import json
from pathlib import Path

from weakseg.io.errors import WeaksegError
from weakseg.io.outputs import staged_outputs


def write_statistics(path: str | Path, statistics: dict) -> None:
    """Write ``statistics`` as JSON, whole or not at all."""
    with staged_outputs(path) as (staged,):
        Path(staged).write_text(json.dumps(statistics, indent=2) + "\n")


def read_statistics(path: str | Path) -> tuple[list[float], list[float]]:
    """``(mean, std)`` fractions of 255 per band from a file of :func:`write_statistics`.

    Raises:
        WeaksegError: unreadable or without ``mean`` / ``std``, naming the file.
    """
    try:
        data = json.loads(Path(path).read_text())
        return [float(m) for m in data["mean"]], [float(s) for s in data["std"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WeaksegError(f"{path}: not a band statistics file ({error}); rerun the stats rule") from error
