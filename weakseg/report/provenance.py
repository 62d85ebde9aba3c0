"""Provenance of a report: git commit, config hash, software versions and wall times per rule."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from weakseg.formats.summary import read_benchmark_seconds

PACKAGES = (
    "numpy",
    "scipy",
    "torch",
    "torchvision",
    "segmentation_models_pytorch",
    "albumentations",
    "snakemake",
    "tifffile",
    "Pillow",
    "matplotlib",
    "Jinja2",
)


def provenance(config: dict, benchmarks: tuple[Path, ...]) -> dict:
    """What produced the results: code, config, software, and the wall time of every job.

    Args:
        config: the workflow config as the report rule received it.
        benchmarks: Snakemake ``benchmark:`` TSV files, one per job.

    Returns:
        ``facts`` ((name, value) pairs: git commit, config hash, Python, platform, package
        versions), ``timing`` ((rule, jobs, seconds, h:mm:ss) rows and a total row) and
        ``config`` (the config as YAML).
    """
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    facts = [
        ("git commit", _git_commit()),
        ("config hash (sha256, first 12)", config_hash),
        ("Python", sys.version.split()[0]),
        ("platform", platform.platform()),
    ]
    facts += [(f"package {name}", _package_version(name)) for name in PACKAGES]
    timing: dict[str, list[float]] = defaultdict(list)
    for path in benchmarks:
        timing[_benchmark_rule(path)].append(read_benchmark_seconds(path))
    total = sum(sum(s) for s in timing.values())
    rows = [(rule, len(s), sum(s), _hms(sum(s))) for rule, s in sorted(timing.items())]
    rows.append(("total", sum(len(s) for s in timing.values()), total, _hms(total)))
    return {
        "facts": facts,
        "timing": rows,
        "config": yaml.safe_dump(config, sort_keys=False, default_flow_style=False),
    }


def _benchmark_rule(path: Path) -> str:
    """``results/benchmarks/train/strong_only/...tsv`` -> ``train``; ``.../summary.tsv`` -> ``summary``."""
    parts = Path(path).parts
    if "benchmarks" in parts:
        rest = parts[len(parts) - parts[::-1].index("benchmarks") :]
        return Path(rest[0]).stem if len(rest) == 1 else rest[0]
    return Path(path).stem


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        status = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    dirty = " (uncommitted changes)" if status.returncode == 0 and status.stdout.strip() else ""
    return head.stdout.strip() + dirty


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
