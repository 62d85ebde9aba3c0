"""What makes an interrupted run the same run: its settings, the content of its inputs, its random streams.

A resume checkpoint records the settings (and their hash), a fingerprint of every input file
(SHA-256 of the content) and the state of every random number generator the run draws from.
A rerun resumes only when all of them match what it would start from now.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import torch

from weakseg.io.digest import file_digest
from weakseg.io.errors import WeaksegError


def settings_hash(settings: dict) -> str:
    """sha256 (hex) of the settings as sorted JSON: what a resume must match."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def fingerprint(inputs: dict[str, str | os.PathLike], known: dict | None = None) -> dict[str, dict]:
    """``role -> {"path", "size", "mtime_ns", "sha256"}`` of each input file.

    Args:
        inputs: role (e.g. ``splits``, ``init``) -> file path.
        known: an earlier fingerprint. A file with the same path, size (bytes) and
            modification time (ns) keeps the digest recorded there instead of being read
            again, so checking a resume does not re-read gigabytes of unchanged tile arrays.

    Raises:
        WeaksegError: an input file is missing.
    """
    known = known or {}
    prints = {}
    for role, path in sorted(inputs.items()):
        try:
            stat = os.stat(path)
        except OSError as error:
            raise WeaksegError(f"input {role} ({path}) cannot be read: {error}") from error
        record = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        old = known.get(role, {})
        same_file = all(old.get(k) == v for k, v in record.items())
        record["sha256"] = old["sha256"] if same_file and "sha256" in old else file_digest(path, "sha256", 1 << 24)
        prints[role] = record
    return prints


def _flatten(settings: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def changes(checkpoint: dict, settings: dict, inputs: dict[str, dict]) -> list[str]:
    """What differs between an interrupted run's ``checkpoint`` and the run about to start.

    Returns:
        One line per changed setting (``key: old -> new``) and per input whose content
        changed, appeared or disappeared (``input role (path): content changed``).
    """
    found = []
    if checkpoint.get("settings_hash") != settings_hash(settings):
        old, new = _flatten(checkpoint.get("settings", {})), _flatten(settings)
        found += [
            f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
        ]
    before = checkpoint.get("inputs")
    if before is None:
        return found + ["the checkpoint records no fingerprint of its inputs (written by an older version)"]
    for role in sorted(set(before) | set(inputs)):
        old, new = before.get(role), inputs.get(role)
        if old is None or new is None:
            found.append(f"input {role}: {'added' if old is None else 'removed'}")
        elif old["sha256"] != new["sha256"]:
            found.append(f"input {role} ({new['path']}): content changed since the interruption")
    return found


def check_same_run(checkpoint: dict, settings: dict, inputs: dict[str, dict], path: Path) -> None:
    """Refuse to resume ``checkpoint`` (read from ``path``) unless settings and inputs are unchanged.

    Raises:
        WeaksegError: naming every change, and how to resume or start over.
    """
    found = changes(checkpoint, settings, inputs)
    if found:
        raise WeaksegError(
            f"{path} is an interrupted run of other settings or data ({'; '.join(found)}); refusing to mix runs. "
            f"Restore them to resume it, or delete {path.parent} to start over"
        )


def rng_state(generators: list[torch.Generator]) -> dict:
    """The state of Python's, NumPy's and PyTorch's global RNGs (and CUDA's), and of ``generators``."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "generators": [g.get_state() for g in generators],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, generators: list[torch.Generator]) -> None:
    """Restore what :func:`rng_state` saved (``generators`` in the same order)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    for generator, saved in zip(generators, state.get("generators", []), strict=False):
        generator.set_state(saved)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global RNGs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
