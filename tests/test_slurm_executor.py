"""The slurm-weakseg executor's own decisions, without a cluster: status-check pacing and failure messages.

The messages are the SLURM plugin's (snakemake-executor-plugin-slurm 2.8) and sbatch's
(SLURM 22.05) as they read on the CI cluster; tests/test_slurm.py meets them on a real SLURM.
"""

from __future__ import annotations

import pytest

pytest.importorskip("snakemake_executor_plugin_slurm", reason="the cluster extra is not installed")

from weakseg.ops.slurm_executor import HOPELESS, MAX_CHECK_SECONDS, advice, explain, next_check_seconds  # noqa: E402

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
