"""A tiny study through profiles/slurm on a real single-node SLURM (started by ``bash .ci/slurm.sh start``).

What a dry run cannot show: the CPUs, memory, runtime and GPUs each job really got (read back
from SLURM's own job records), that the small jobs travel as a few group jobs, and that two
training jobs run at once, each on the GPU SLURM gave it (fake GPUs: device files linked to
/dev/null; the jobs train on the CPU and log the CUDA_VISIBLE_DEVICES they were given), that
a group's jobs run side by side; what a cluster user meets next: failures that name their
cause and the key to change, a preempted (requeued) and a cancelled training that resume to
the same summary, and the whole study inside one allocation.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from conftest import copy_workflow, run_snakemake, snakemake_env

pytest.importorskip(
    "snakemake_executor_plugin_slurm_weakseg",
    reason="the slurm-weakseg executor is not installed: pip install -e ./cluster",
)

pytestmark = pytest.mark.pipeline

#: Two independent runs (so two training jobs can run at once), one seed, a short schedule.
TINY = {
    "dataset": {"synthetic": {"n_scenes": 3, "height": 192, "width": 192}},
    "training": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4},
    "experiment": {"variants": ["strong_only", "full"], "methods": [], "seeds": [0]},
    "evaluation": {"gallery_tiles": 1},
}
#: One run trained long enough to be interrupted twice (8 epochs, a checkpoint after each).
LONG = {**TINY, "training": {"epochs": 8, "steps_per_epoch": 2, "batch_size": 4}}
LONG["experiment"] = {**TINY["experiment"], "variants": ["strong_only"]}
RUN_FOLDER = "results/models/strong_only/weak-none/strong-0.1/seed-0/default"
TRAIN_LOG = "results/logs/train/strong_only/weak-none/strong-0.1/seed-0/default.log"
#: The CI cluster keeps no accounting (squeue, not sacct); the jobs' SLURM logs are kept to be read.
SLURM_OPTIONS = ("--slurm-weakseg-status-command", "squeue", "--slurm-weakseg-keep-successful-logs")
#: What the train rule asks for by default (resources.rules.train; threads from the profile).
TRAIN = {"gpus": 1, "cpus_per_gpu": 4, "mem_mb": 32000, "runtime_min": 480}


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


def _study(tmp_path: Path, name: str, config: dict) -> Path:
    workdir = copy_workflow(tmp_path / name)
    (workdir / "study.yaml").write_text(yaml.safe_dump(config))
    return workdir


def _through_the_profile(*configfiles: str) -> list[str]:
    """Snakemake's options for the study through the profile (no conda here: env-modules, no directive)."""
    return [
        *("--profile", "profiles/slurm", "--sdm", "env-modules", *SLURM_OPTIONS),
        *("--set-threads", "train=1", "evaluate=1", "--configfile", "study.yaml", *configfiles),
    ]


def _slurm(workdir: Path, *configfiles: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """The study in ``workdir`` through the profile."""
    return run_snakemake(workdir, *_through_the_profile(*configfiles), timeout=timeout)


def _slurm_started(workdir: Path, *configfiles: str, targets: tuple[str, ...] = ()) -> subprocess.Popen:
    """:func:`_slurm`, started in the background (its output in ``stdout``, stderr included)."""
    command = [sys.executable, "-m", "snakemake", *targets, *_through_the_profile(*configfiles)]
    return subprocess.Popen(
        command, cwd=workdir, env=snakemake_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _frozen_at_first_checkpoint(workdir: Path, run: subprocess.Popen) -> list[int]:
    """Stop the training of ``run`` once its first checkpoint is written; the processes stopped."""
    checkpoint = workdir / RUN_FOLDER / "resume/checkpoint.pt"
    deadline = time.monotonic() + 180
    while not checkpoint.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return _signal_training(workdir, signal.SIGSTOP) if checkpoint.exists() else []


def _summary(workdir: Path) -> list[dict]:
    """summary.csv's rows without the timings, which differ between runs of the same study."""
    with (workdir / "results/summary.csv").open(newline="") as handle:
        return [{k: v for k, v in row.items() if not k.endswith("_seconds")} for row in csv.DictReader(handle)]


def _queued(workdir: Path) -> list[dict]:
    return [job for job in _jobs_of(workdir) if job["JobState"] in ("PENDING", "RUNNING", "CONFIGURING")]


def _cancel(jobs: list[dict]) -> None:
    if jobs:
        subprocess.run(["scancel", *[job["JobId"] for job in jobs]], capture_output=True, timeout=30)


def test_failures_name_the_slurm_cause_and_the_key_to_change_and_nothing_waits(tmp_path):
    _cluster_running()
    # A training over its time limit (1 min; its model alone, so evaluate's 60 min are not added to
    # the job's), frozen at its first checkpoint: SLURM ends it 60 to 90 s after its start, while the
    # cases below run.
    limited = _study(tmp_path, "limited", LONG)
    (limited / "limit.yaml").write_text(yaml.safe_dump({"resources": {"rules": {"train": {"runtime": 1}}}}))
    over_time = _slurm_started(limited, "limit.yaml", targets=(f"{RUN_FOLDER}/model.pt",))
    frozen = []
    freezer = threading.Thread(target=lambda: frozen.extend(_frozen_at_first_checkpoint(limited, over_time)))
    freezer.start()
    try:
        _failures_at_submission_and_in_the_job(_study(tmp_path, "workflow", LONG))
        output, _ = over_time.communicate(timeout=240)
    finally:  # a failed case leaves nothing running behind it
        over_time.kill()
        freezer.join()
        _cancel(_queued(limited))
    assert frozen, "the time-limited training ended or was never seen before its first checkpoint"
    assert over_time.returncode != 0
    assert "ended TIMEOUT" in output and "resources.rules.train.runtime" in output, output[-3000:]
    assert (limited / RUN_FOLDER / "resume/checkpoint.pt").exists(), "the checkpoint to resume from is kept"
    assert not (limited / RUN_FOLDER / "model.pt").exists() and not _queued(limited)


def _failures_at_submission_and_in_the_job(workdir: Path) -> None:
    """Each case ends the run in < 2 min, naming its cause and key, with nothing queued or kept."""
    cases = (  # what the config asks of the rules, what the message must say
        # .ci/slurm.sh's partition small (60 min at most) takes train's 480 min and never starts it.
        ({"train": {"slurm_partition": "small"}}, ["pending reason 'PartitionTimeLimit'", "rules.train.runtime"]),
        ({"train": {"cpus_per_gpu": 32}}, ["node configuration is not available", "rules.train.cpus_per_gpu"]),
        # .ci/slurm.sh's OverMemoryKill ends a job over its memory FAILED: slurmstepd's log line says why.
        # (train and evaluate travel as one job, which asks the larger of their memories.)
        (
            {"train": {"mem_mb": 200}, "evaluate": {"mem_mb": 200}},
            ["ended FAILED (slurmstepd: Exceeded job memory limit)", "rules.train.mem_mb"],
        ),
        ({"train": {"slurm_partition": "nope"}}, ["invalid partition specified: nope", "rules.train.slurm_partition"]),
    )
    for number, (rules, expected) in enumerate(cases):
        (workdir / f"case{number}.yaml").write_text(yaml.safe_dump({"resources": {"rules": rules}}))
        started = time.monotonic()
        result = _slurm(workdir, f"case{number}.yaml", timeout=240)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        for words in expected:
            assert words in output, output[-4000:]
        assert not _queued(workdir), "a job the run gave up on is still queued"
        assert not list((workdir / "results/models").rglob("model.pt"))
        assert time.monotonic() - started < 120
    assert output.count("sbatch refused the job") == 1  # the refusal is not submitted again


def test_a_requeued_then_cancelled_training_resumes_to_the_uninterrupted_summary(tmp_path):
    _cluster_running()
    reference = _study(tmp_path, "reference", LONG)
    local = run_snakemake(
        reference, "--cores", "2", "--set-threads", "train=1", "evaluate=1", "--configfile", "study.yaml"
    )
    assert local.returncode == 0, local.stderr[-3000:]
    workdir = _study(tmp_path, "workflow", LONG)
    with _slurm_started(workdir) as run:
        # Frozen at its checkpoint, the training cannot end before the requeue lands (a 2-s
        # training under CI load could, and leave nothing to resume).
        assert _frozen_at_first_checkpoint(workdir, run), "no training seen at its first checkpoint in 180 s"
        (job,) = [j["JobId"] for j in _queued(workdir) if j.get("Comment", "").startswith("rule_run")]
        subprocess.run(["scontrol", "requeue", job], check=True, timeout=30)  # as a preemption does
        _wait_for(lambda: _state(job) == "PENDING", "the requeued job pending", details=lambda: _job_details(job))
        _wait_for(lambda: not _signal_training(workdir, 0), "the first attempt's training to end")
        # SLURM revokes the ended attempt's credential to the second: a restart in the same second
        # fails ("Job credential revoked"; the 2-min hold of a requeued job, skipped below, avoids it).
        time.sleep(2)
        subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True, timeout=30)  # no 2-min hold
        _wait_for(
            lambda: "resuming from" in _text(workdir / TRAIN_LOG),
            "the requeued job resuming",
            details=lambda: _job_details(job, workdir),
        )
        _signal_training(workdir, signal.SIGSTOP)  # again: a checkpoint short of the end is left to resume
        subprocess.run(["scancel", job], check=True, timeout=30)  # then killed, as at a time limit
        output, _ = run.communicate(timeout=300)
    assert run.returncode != 0
    assert f"SLURM job {job} ended CANCELLED" in output and "training resumes" in output, output[-3000:]
    rerun = _slurm(workdir)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert re.search(r"resuming from .* after epoch [1-7] of 8", _text(workdir / TRAIN_LOG))
    assert _summary(workdir) == _summary(reference)


def test_one_allocation_runs_the_study_with_the_local_executor_on_the_allocations_gpus(tmp_path):
    _cluster_running()
    workdir = _study(tmp_path, "workflow", TINY)
    snakemake = Path(sys.executable).parent / "snakemake"
    # The README's recipe: one sbatch, Snakemake's local executor inside, the GPUs leased among its jobs.
    recipe = f'{snakemake} --cores "$SLURM_CPUS_PER_TASK" --resources gpu=2 --set-threads train=1 evaluate=1'
    allocation = ["sbatch", "--wait", "--gpus=2", "--cpus-per-task=4", "--mem=16000", "--time=30"]
    result = subprocess.run(
        [*allocation, "--output=allocation.log", "--wrap", f"{recipe} --configfile study.yaml"],
        cwd=workdir,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr + _text(workdir / "allocation.log")[-3000:]
    assert (workdir / "results/report.html").exists()
    leases = [
        found.group(1)
        for log in (workdir / "results/logs").glob("[te]*/**/*.log")
        for found in re.finditer(r"GPU lease \S+: CUDA_VISIBLE_DEVICES=(\S+)", _text(log))
    ]
    assert len(leases) == 4 and set(leases) <= {"0", "1"}, leases  # two trains, two evaluations, one GPU each


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _state(job: str) -> str:
    shown = subprocess.run(["squeue", "--noheader", "--jobs", job, "--format", "%T"], capture_output=True, text=True)
    return shown.stdout.strip()


def _signal_training(workdir: Path, number: int) -> list[int]:
    """Send ``number`` to the study's training processes (``scripts/train.py`` run in ``workdir``)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ours = proc.joinpath("cwd").resolve() == workdir.resolve()
            if ours and b"scripts/train.py" in proc.joinpath("cmdline").read_bytes():
                os.kill(int(proc.name), number)
                found.append(int(proc.name))
        except OSError:  # ended meanwhile, or not ours to read
            continue
    return found


def _job_details(job: str, workdir: Path | None = None) -> str:
    """What SLURM and the logs say of ``job``, for a failed wait's message."""
    shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, timeout=30)
    logs = sorted((workdir / ".snakemake/slurm_logs").rglob("*.log")) if workdir else []
    tails = "".join(f"\n--- {log}:\n{_text(log)[-1500:]}" for log in logs[-2:])
    return shown.stdout + shown.stderr + tails + (f"\n--- train log:\n{_text(workdir / TRAIN_LOG)}" if workdir else "")


def _wait_for(condition, what: str, seconds: float = 180, details=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}\n{details()}")
        time.sleep(0.2)
