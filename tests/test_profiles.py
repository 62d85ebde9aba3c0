"""The SLURM profile plans the default experiment without a cluster (``snakemake --profile profiles/slurm -n``)."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import REPO, copy_workflow, run_snakemake

pytest.importorskip(
    "snakemake_executor_plugin_slurm_weakseg",
    reason="the slurm-weakseg executor is not installed: pip install -e ./cluster",
)


def _job_blocks(stdout: str) -> dict[str, list[str]]:
    """Rule -> the dry run's job blocks (``rule X:`` up to the next job), grouped jobs included."""
    blocks: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=\s*(?:local)?(?:rule|checkpoint) \w+:)", stdout):
        match = re.match(r"\s*(?:local)?(?:rule|checkpoint) (\w+):", block)
        if match:
            blocks.setdefault(match.group(1), []).append(block)
    return blocks


def _resources(block: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in re.search(r"resources: (.*)", block).group(1).split(", "))


def test_slurm_profile_plans_the_default_experiment(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    # --use-conda fails outright where conda is absent (as on CI); the plan is otherwise the same.
    deployment = [] if shutil.which("conda") else ["--sdm", "env-modules"]
    result = run_snakemake(workdir, "--profile", "profiles/slurm", "-n", *deployment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Using profiles profiles/slurm" in result.stderr
    output = result.stdout + result.stderr
    blocks = _job_blocks(output)
    # 4 seeds x (strong_only, weak_only, weak_finetuned, full); weak_only is trained, not scored.
    assert len(blocks["train"]) == 16 and len(blocks["evaluate"]) == 12
    for block in blocks["train"]:
        resources = _resources(block)
        assert resources["gpu"] == "1" and resources["cpus_per_gpu"] == "4" and resources["mem_mb"] == "32000"
        assert resources["runtime"] == "480"
        # The plugin prefers cpus_per_task to cpus_per_gpu: a default of it starved training of CPUs.
        assert "cpus_per_task" not in resources
    for rule in ("download", "tile", "split", "weak_labels", "augment", "summary", "report"):
        for block in blocks[rule]:
            assert "gpu" not in _resources(block) and "cpus_per_task" not in _resources(block), rule
    assert set(re.findall(r"Group job \w+", output)) == {"Group job data", "Group job run"}


def test_a_layered_config_adapts_one_rule_and_keeps_the_others(tmp_path):
    """configs/slurm-cpu.yaml (a CPU-only partition) over the defaults: gpu 0 for the GPU rules, rest kept."""
    workdir = copy_workflow(tmp_path / "workflow")
    (workdir / "configs").mkdir()
    shutil.copy(REPO / "configs/slurm-cpu.yaml", workdir / "configs")
    deployment = [] if shutil.which("conda") else ["--sdm", "env-modules"]
    result = run_snakemake(
        workdir, "--profile", "profiles/slurm", "-n", *deployment, "--configfile", "configs/slurm-cpu.yaml"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    blocks = _job_blocks(result.stdout + result.stderr)
    for rule, memory, runtime in (("train", "32000", "480"), ("evaluate", "16000", "60")):
        for block in blocks[rule]:
            resources = _resources(block)
            assert resources["gpu"] == "0" and resources["slurm_partition"] == "cpu", rule
            assert resources["mem_mb"] == memory and resources["runtime"] == runtime, rule
    for block in blocks["download"]:  # a local rule: its resources are kept, unused
        assert _resources(block)["mem_mb"] == "2000" and _resources(block)["slurm_partition"] == "cpu"


def test_the_schemas_rule_names_are_the_workflows_rules(tmp_path):
    """resources.rules may name exactly the rules of the workflow (not `all`): one list, checked against the other."""
    import yaml

    workdir = copy_workflow(tmp_path / "workflow")
    result = run_snakemake(workdir, "--list-rules")
    assert result.returncode == 0, result.stderr[-3000:]
    rules = set(result.stdout.split()) - {"all"}
    schema = yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text())
    rules_schema = schema["properties"]["resources"]["properties"]["rules"]
    assert set(rules_schema["propertyNames"]["enum"]) == rules
    assert set(rules_schema["default"]) <= rules
