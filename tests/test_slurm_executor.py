"""The slurm-weakseg executor's own decisions, without a cluster: status-check pacing and failure messages.

The messages are the SLURM plugin's (snakemake-executor-plugin-slurm 2.8) and sbatch's
(SLURM 22.05) as they read on the CI cluster; tests/test_slurm.py meets them on a real SLURM.
"""

from __future__ import annotations

import pytest

pytest.importorskip("snakemake_executor_plugin_slurm", reason="the cluster extra is not installed")

import weakseg.ops.slurm_executor as slurm_executor  # noqa: E402
from weakseg.ops.slurm_executor import (  # noqa: E402
    HOPELESS,
    MAX_CHECK_SECONDS,
    advice,
    explain,
    next_check_seconds,
    slurmstepd_cause,
)

REFUSED = (
    "SLURM sbatch failed. The error message was 'sbatch: error: invalid partition specified: nope\n"
    "sbatch: error: Batch job submission failed: Invalid partition name specified'.\n"
    "    sbatch call:\n        sbatch --parsable --job-name 1f --partition nope ...\n"
)


def test_status_checks_come_a_tenth_of_the_wave_later_within_init_and_the_plugins_cap():
    assert next_check_seconds(0, init=5) == 5  # a young wave: the profile's first check
    assert next_check_seconds(30, init=5) == 5
    assert next_check_seconds(300, init=5) == pytest.approx(30)  # a 5-min wave: noticed <= 30 s late
    assert next_check_seconds(10 * 3600, init=5) == MAX_CHECK_SECONDS  # hours: every 3 min, as the plugin
    assert next_check_seconds(100, init=40) == 40  # the plugin's default start still holds
    # squeue lists a finished job MinJobAge seconds: two checks never fall further apart than half of it.
    assert next_check_seconds(10 * 3600, init=5, min_job_age=120) == 60
    assert next_check_seconds(10 * 3600, init=5, min_job_age=3600) == MAX_CHECK_SECONDS


def test_a_refused_submission_shows_sbatchs_own_words_and_the_key_to_change():
    line = explain(REFUSED, None, ["evaluate", "train"])
    assert "sbatch refused the job: sbatch: error: invalid partition specified: nope" in line
    assert "resources.rules.evaluate.slurm_partition, resources.rules.train.slurm_partition" in line
    assert "sbatch call" not in line  # the whole command line stays in the plugin's own message


@pytest.mark.parametrize(
    ("state", "key"),
    [("TIMEOUT", "runtime"), ("OUT_OF_MEMORY", "mem_mb")],
)
def test_a_job_killed_at_its_limit_names_the_state_and_the_limit_to_raise(state, key):
    message = (
        f"SLURM-job '42' failed, SLURM status is: '{state}'. "
        "Detailed failure reason unavailable (status command is not 'sacct')."
    )
    line = explain(message, "42", ["train"])
    assert line.startswith(f"train: SLURM job 42 ended {state}.")
    assert f"resources.rules.train.{key}" in line


def test_pending_reasons_that_no_wait_resolves_are_told_from_those_that_pass():
    for reason in ("PartitionConfig", "PartitionTimeLimit", "InvalidAccount", "QOSMaxCpuPerJobLimit"):
        assert HOPELESS.match(reason), reason
    for reason in ("Resources", "Priority", "ReqNodeNotAvail", "QOSMaxJobsPerUserLimit", "BeginTime"):
        assert not HOPELESS.match(reason), reason
    # A time limit above the partition's is about time, not size; a node too small about size.
    assert "resources.rules.train.runtime" in advice("pending reason 'PartitionTimeLimit'", ["train"])
    sized = advice("pending reason 'PartitionConfig'", ["train"])
    assert "resources.rules.train.cpus_per_gpu" in sized and "resources.rules.train.mem_mb" in sized


def test_an_unknown_cause_points_to_the_logs_instead_of_guessing():
    line = explain("SLURM-job '7' failed, SLURM status is: 'FAILED'.", "7", ["tile"])
    assert line == "tile: SLURM job 7 ended FAILED. See the SLURM log and the rule's log named above."


#: slurmstepd's lines as SLURM 22.05 writes them into a job's log (the CI cluster's memory kill;
#: a cgroup OOM kill; a time limit), after the rule's own output.
STEPD = {
    "memory": (
        "slurmstepd-localhost: error: StepId=1.batch exceeded memory limit (434720768 > 104857600), being killed\n"
        "slurmstepd-localhost: error: *** JOB 1 ON localhost CANCELLED AT 2026-12-07T04:18:27 ***\n"
        "slurmstepd-localhost: error: Exceeded job memory limit\n"
    ),
    "cgroup": (
        "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=9.batch. "
        "Some of your processes may have been killed by the cgroup out-of-memory handler.\n"
    ),
    "time": "slurmstepd: error: *** JOB 5 ON node3 CANCELLED AT 2026-12-07T04:00:00 DUE TO TIME LIMIT ***\n",
}


@pytest.mark.parametrize(
    ("log", "state", "key"),
    [("memory", "FAILED", "mem_mb"), ("cgroup", "OUT_OF_MEMORY", "mem_mb"), ("time", "CANCELLED", "runtime")],
)
def test_slurmstepds_words_in_the_job_log_name_the_limit_the_state_hides(tmp_path, log, state, key):
    path = tmp_path / "5.log"
    path.write_text("localrule train:\n" + "epoch 1/8 ...\n" * 5000 + STEPD[log])  # past the tail's start
    said = slurmstepd_cause(path)
    assert said and said in STEPD[log]
    line = explain(f"SLURM-job '5' failed, SLURM status is: '{state}'.", "5", ["train"], said)
    assert line.startswith(f"train: SLURM job 5 ended {state} (slurmstepd: {said}).")
    assert f"resources.rules.train.{key}" in line


def test_a_job_log_without_slurmstepds_words_or_missing_adds_nothing(tmp_path):
    quiet = tmp_path / "7.log"
    quiet.write_text("localrule tile:\nTraceback (most recent call last):\nValueError: bad tile\n")
    assert slurmstepd_cause(quiet) is None
    assert slurmstepd_cause(tmp_path / "missing.log") is None
    assert slurmstepd_cause(None) is None


class _Job:
    """What the executor reads of a submitted job (the plugin's SubmittedJobInfo and its job)."""

    def __init__(self, jobid: str, rules: list[str]):
        self.external_jobid, self.aux = jobid, {}
        self.job = type("RuleJob", (), {"rules": rules})()


class _Log:
    def __init__(self):
        self.lines = []

    def info(self, line):
        self.lines.append(line)

    error = info


def test_a_hopeless_pending_job_is_cancelled_and_a_long_wait_is_said_every_10_min(monkeypatch):
    executor = object.__new__(slurm_executor.Executor)  # no workflow: only the pending-reason mend
    executor.logger, executor._pending_noted, failed, cancelled = _Log(), {}, [], []
    executor.report_job_error = lambda job_info, msg=None: failed.append((job_info.external_jobid, msg))
    monkeypatch.setattr(slurm_executor.subprocess, "run", lambda command, **_: cancelled.append(command))
    reasons = {"1": "PartitionConfig", "2": "Priority"}
    executor._pending_reasons = lambda jobids: {job: reasons[job] for job in jobids if job in reasons}
    clock = [1000.0]
    monkeypatch.setattr(slurm_executor.time, "monotonic", lambda: clock[0])
    jobs = [_Job("1", ["train"]), _Job("2", ["evaluate", "train"]), _Job("3", ["tile"])]

    still = executor._end_hopeless(jobs)
    assert [j.external_jobid for j in still] == ["2", "3"]  # 3 runs; 2 waits its turn
    assert cancelled == [["scancel", "1"]] and failed[0][0] == "1" and "'PartitionConfig'" in failed[0][1]
    assert executor.logger.lines == []  # a wait is not said at once
    clock[0] += 601
    executor._end_hopeless(still)
    (said,) = executor.logger.lines
    assert "SLURM job 2 (evaluate, train) has waited 10 min" in said and "reason 'Priority'" in said
    clock[0] += 300
    executor._end_hopeless(still)
    assert len(executor.logger.lines) == 1  # said again 10 min after the last time, not at every check
    reasons.pop("2")  # job 2 started: its wait is forgotten
    executor._end_hopeless(still)
    assert executor._pending_noted == {}
