"""The SLURM profile plans the default experiment without a cluster (``snakemake --profile profiles/slurm -n``)."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import copy_workflow, run_snakemake

pytest.importorskip("snakemake_executor_plugin_slurm", reason="the cluster extra is not installed")


def _job_blocks(stdout: str) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=\[.*\]\n(?:local)?(?:rule|checkpoint) )", stdout):
        match = re.search(r"^(?:local)?(?:rule|checkpoint) (\w+):", block, re.MULTILINE)
        if match:
            blocks.setdefault(match.group(1), []).append(block)
    return blocks


def test_slurm_profile_plans_the_default_experiment(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    # --use-conda fails outright where conda is absent (as on CI); the plan is otherwise the same.
    deployment = [] if shutil.which("conda") else ["--sdm", "env-modules"]
    result = run_snakemake(workdir, "--profile", "profiles/slurm", "-n", *deployment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Using profiles profiles/slurm" in result.stderr
    blocks = _job_blocks(result.stdout + result.stderr)
    assert len(blocks["train"]) == 15 and len(blocks["evaluate"]) == 15
    for block in blocks["train"]:
        resources = re.search(r"resources: (.*)", block).group(1)
        assert "gpu=1" in resources and "cpus_per_gpu=8" in resources and "mem_mb=32000" in resources
        assert "runtime=480" in resources
    for rule in ("download", "tile", "split", "weak_labels", "augment", "summary", "report"):
        for block in blocks[rule]:
            assert "gpu=" not in re.search(r"resources: (.*)", block).group(1), rule
