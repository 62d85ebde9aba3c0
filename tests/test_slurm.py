"""A tiny study through profiles/slurm on a real single-node SLURM (started by ``bash .ci/slurm.sh start``).

What a dry run cannot show: the CPUs, memory, runtime and GPUs each job really got (read back
from SLURM's own job records), that the small jobs travel as a few group jobs, and that two
training jobs run at once, each on the GPU SLURM gave it (fake GPUs: device files linked to
/dev/null; the jobs train on the CPU and log the CUDA_VISIBLE_DEVICES they were given).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime

import pytest
import yaml
from conftest import copy_workflow, run_snakemake

pytest.importorskip("snakemake_executor_plugin_slurm", reason="the cluster extra is not installed")

pytestmark = pytest.mark.pipeline

#: Two independent runs (so two training jobs can run at once), one seed, a short schedule.
TINY = {
    "dataset": {"synthetic": {"n_scenes": 3, "height": 192, "width": 192}},
    "training": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4},
    "experiment": {"variants": ["strong_only", "full"], "methods": [], "seeds": [0]},
    "evaluation": {"gallery_tiles": 1},
}
#: The CI cluster keeps no accounting (squeue, not sacct); the jobs' SLURM logs are kept to be read.
SLURM_OPTIONS = ("--slurm-weakseg-status-command", "squeue", "--slurm-weakseg-keep-successful-logs")
#: What the train rule asks for by default (resources.rules.train; threads from the profile).
TRAIN = {"gpus": 1, "cpus_per_gpu": 8, "mem_mb": 32000, "runtime_min": 480}


def _cluster_running() -> None:
    """Skip unless the test cluster of .ci/slurm.sh is up (never submit test jobs to a real cluster)."""
    if shutil.which("sinfo") is None:
        pytest.skip("SLURM is not installed: `bash .ci/slurm.sh start` (as root) installs and starts a test cluster")
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30)
    if re.search(r"^ClusterName\s*=\s*weakseg$", config.stdout, re.MULTILINE) is None:
        pytest.skip("no weakseg test cluster is up: `bash .ci/slurm.sh start` (as root) starts one")
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    if "idle" not in state.stdout:
        pytest.skip(f"the weakseg test cluster has no idle node: {state.stdout.strip()} {state.stderr.strip()}")


def _jobs_of(workdir) -> list[dict]:
    """SLURM's records (``scontrol show job``) of the jobs run from ``workdir``, as key -> value."""
    shown = subprocess.run(["scontrol", "show", "job", "--oneliner"], capture_output=True, text=True, timeout=30)
    records = []
    for line in shown.stdout.splitlines():
        record = dict(re.findall(r"(\w[\w:/]*)=(\S*)", line))
        if record.get("WorkDir") == str(workdir):
            records.append(record)
    return records


def _minutes(limit: str) -> int:
    """SLURM's TimeLimit ``[days-]hours:minutes:seconds`` in minutes."""
    days, _, clock = limit.rpartition("-")
    hours, minutes, _ = (int(x) for x in clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + minutes


def test_a_tiny_study_runs_through_the_slurm_profile_with_what_each_job_asks(tmp_path):
    _cluster_running()
    workdir = copy_workflow(tmp_path / "workflow")
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    result = run_snakemake(
        workdir,
        *("--profile", "profiles/slurm", "--sdm", "env-modules"),  # env-modules: no conda here, no directive
        *SLURM_OPTIONS,
        # 2 cores here: no DataLoader workers (the jobs still ask SLURM for resources.rules' CPUs).
        *("--set-threads", "train=1", "evaluate=1"),
        *("--configfile", "tiny.yaml"),
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert (workdir / "results/report.html").stat().st_size > 10_000
    jobs = _jobs_of(workdir)
    by_group = {}
    for job in jobs:
        # The plugin's comment: rule_<rule>_wildcards_<...> for a job, rule_<group>_<its rules> for a group.
        by_group.setdefault(re.match(r"rule_[a-z]+", job.get("Comment", "")).group(0), []).append(job)
    # The data group, one run group per run (download, summary and report are local rules: they
    # ran where Snakemake ran).
    assert sorted(by_group) == ["rule_data", "rule_run"]
    assert len(by_group["rule_run"]) == 2 and len(jobs) == 3
    assert by_group["rule_data"][0]["Comment"].startswith("rule_data_augment_prepare_split_stats_tile")
    for job in by_group["rule_run"]:  # train and evaluate: the train rule's asks are the largest
        assert job["JobState"] == "COMPLETED"
        assert job.get("TresPerJob") == f"gres:gpu:{TRAIN['gpus']}"  # --gpus=1 reached sbatch
        assert job["NumCPUs"] == str(TRAIN["cpus_per_gpu"] * TRAIN["gpus"])
        assert f"mem={TRAIN['mem_mb']}M" in job["TRES"]
        assert job.get("CpusPerTres") == f"gres:gpu:{TRAIN['cpus_per_gpu']}"  # --cpus-per-gpu reached sbatch
        assert _minutes(job["TimeLimit"]) >= TRAIN["runtime_min"]
    data = by_group["rule_data"][0]
    assert data["JobState"] == "COMPLETED" and "gpu" not in data.get("TresPerJob", "")
    # The widest of its steps: 3 prepare jobs side by side (3 CPUs, 3 x 2500 MB), then tile
    # (8000 MB), split, then weak_labels, augment and stats side by side (4000 + 8000 + 4000 MB).
    assert data["NumCPUs"] == "3" and "mem=16000M" in data["TRES"]
    assert _minutes(data["TimeLimit"]) == 15 + 30 + 30 + 30  # the steps' runtimes add up
    # The two training jobs ran at once, each on the GPU SLURM gave it (the lease defers to SLURM).
    starts = sorted((datetime.fromisoformat(j["StartTime"]), datetime.fromisoformat(j["EndTime"])) for j in jobs)
    run_spans = sorted(
        (datetime.fromisoformat(j["StartTime"]), datetime.fromisoformat(j["EndTime"])) for j in by_group["rule_run"]
    )
    assert run_spans[1][0] < run_spans[0][1], f"the run groups did not overlap: {run_spans} of {starts}"
    devices = set()
    for variant, fraction in (("strong_only", "0.1"), ("full", "all")):
        log = (workdir / f"results/logs/train/{variant}/weak-none/strong-{fraction}/seed-0/default.log").read_text()
        found = re.search(r"GPU: SLURM job \d+, CUDA_VISIBLE_DEVICES=(\d+) set by the scheduler", log)
        assert found, log[-2000:]
        devices.add(found.group(1))
    assert devices == {"0", "1"}
    # The data group's prepare jobs ran side by side (upstream issue #469: the plugin's own job
    # runs a group's jobs one after another, each through a Snakemake of its own).
    data_log = next((workdir / ".snakemake/slurm_logs").glob("group_data_*/*.log")).read_text()
    assert _most_at_once(data_log, "prepare") >= 2, data_log[-3000:]


def _most_at_once(log: str, rule: str) -> int:
    """The most ``rule`` jobs (told apart by their wildcards) running at once in a Snakemake log.

    A job starts at its ``rule <rule>:`` block and ends at ``Finished jobid: N (Rule: <rule>)``; a
    Snakemake started for one job inside another (the plugin's jobstep executor) logs the same job
    again under its own job id and counts once.
    """
    running, most, job_wildcards, block = set(), 0, {}, None
    for line in log.splitlines():
        if re.fullmatch(rf"(local)?rule {rule}:", line):
            block = {}
        elif block is not None and (found := re.fullmatch(r"\s+(jobid|wildcards): (.*)", line)):
            block[found.group(1)] = found.group(2)
            if "jobid" in block and "wildcards" in block:
                job_wildcards[block["jobid"]] = block["wildcards"]
                running.add(block["wildcards"])
                most, block = max(most, len(running)), None
        elif found := re.fullmatch(rf"Finished jobid: (\d+) \(Rule: {rule}\)", line):
            running.discard(job_wildcards.get(found.group(1)))
    return most
