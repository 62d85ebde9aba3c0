"""The ``slurm-weakseg`` Snakemake executor: snakemake-executor-plugin-slurm with three mends.

It is the SLURM plugin (2.8; its job submission, resources, requeue and status queries are
used as they are), with what a study of many short waves and long training runs needs:

- **A job's rules run side by side inside its allocation.** The plugin's job runs Snakemake
  with its ``slurm-jobstep`` executor and ``--jobs 1``, which starts the group's rule jobs
  one after another, each through ``srun`` and a Snakemake of its own (upstream issue #469:
  the data group's prepare jobs never overlapped). Here the job's Snakemake runs the local
  executor on the allocation's CPUs (``--cores all`` counts the CPUs the job may use): one
  Snakemake start per SLURM job, and a group's independent jobs at once.
- **Status checks follow the wave.** The plugin checks job states ``init`` seconds after a
  submission, then ``init`` + 10 s, ``init`` + 20 s... apart while nothing finishes (at most 180 s), so
  with ``init`` 2 a 40-s wave was noticed 28 s late. Here the next check is a tenth of the time the
  wave has run so far, at least ``init`` and at most 180 s (:func:`next_check_seconds`):
  detection costs about a tenth of a wave's length and a long wave is still checked only every
  3 minutes.
- **Failures say why and what to change.** A refused submission shows sbatch's own message;
  a job that can never start (SLURM's pending reason ``PartitionConfig`` and the like) is
  cancelled and reported instead of waiting forever; a job that ends ``TIMEOUT``,
  ``OUT_OF_MEMORY``, ``CANCELLED``... is reported with its state and slurmstepd's own words from
  its SLURM log where the state hides the cause (a memory kill that ends ``FAILED``:
  :func:`slurmstepd_cause`). Each message names the rule and the
  ``resources.rules.<rule>.<key>`` of the config to change (:func:`advice`).

Registered by the tiny ``snakemake-executor-plugin-slurm-weakseg`` distribution in
``cluster/`` (Snakemake finds executors by their module name); ``profiles/slurm`` selects it.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path

from snakemake_executor_plugin_slurm import Executor as SlurmExecutor
from snakemake_executor_plugin_slurm import ExecutorSettings, common_settings
from snakemake_executor_plugin_slurm.job_status_query import get_min_job_age

__all__ = [
    "Executor",
    "ExecutorSettings",
    "advice",
    "common_settings",
    "explain",
    "next_check_seconds",
    "slurmstepd_cause",
]

#: The plugin's own cap on the time between status checks (seconds; MinJobAge is 300 s by default).
MAX_CHECK_SECONDS = 180
#: The next check comes after this share of the time the current wave has run.
CHECK_FRACTION = 0.1
#: Pending reasons that no wait resolves: the job asks for more than the partition or any node
#: offers, or for an account, QOS or constraint it may not use (SLURM's squeue(1) "JOB REASON CODES").
HOPELESS = re.compile(
    r"^(PartitionConfig|PartitionNodeLimit|PartitionTimeLimit|BadConstraints|InvalidAccount|InvalidQOS"
    r"|AccountNotAllowed|QOSNotAllowed|\w*(?:MaxCpu|MaxGRES|MaxMem|MaxNode|MaxWall)\w*PerJob\w*)$"
)
#: How often a job still pending for another reason is mentioned (seconds): no silent wait.
PENDING_NOTE_SECONDS = 600
#: What slurmstepd writes into a job's SLURM log when it ends the job: the cause where the state
#: alone does not say it (a memory kill by JobAcctGatherParams=OverMemoryKill ends FAILED, not
#: OUT_OF_MEMORY; a job cancelled at its time limit or preempted ends CANCELLED).
SLURMSTEPD_CAUSE = re.compile(
    r"Exceeded job memory limit|Detected \d+ oom[-_]kill events?|DUE TO (?:TIME LIMIT|PREEMPTION|NODE FAILURE)"
)
#: How much of a job's SLURM log's end is searched for slurmstepd's cause (bytes).
LOG_TAIL_BYTES = 20_000

#: (pattern in a SLURM state, pending reason or sbatch message, config keys to change, what to do),
#: first match wins (case ignored): "PartitionTimeLimit" is about time, "PartitionConfig" about size.
_ADVICE = (
    (r"TIMEOUT|time ?limit", ("runtime",), "raise it (minutes); training resumes from its checkpoint"),
    (
        r"PartitionConfig|node configuration|MaxCpu|MaxNode|BadConstraints|constraint",
        ("cpus_per_gpu", "mem_mb", "gpu"),
        "ask for no more than one node of the partition has (sinfo -o '%P %c %m %G')",
    ),
    (r"OUT_OF_MEMORY|--mem|memory|MaxMem|\boom", ("mem_mb",), "raise it (MB), or lower the batch or tile size"),
    (r"partition", ("slurm_partition",), "name a partition that sinfo lists"),
    (r"account", ("slurm_account",), "name an account of yours (sacctmgr show assoc user=$USER)"),
    (r"QOS", ("qos",), "name a QOS your account may use"),
    (r"gres|gpu", ("gpu",), "ask for GPUs the partition has (sinfo -o '%P %G')"),
    (r"PREEMPTED|NODE_FAIL|CANCELLED", (), "Rerun the same command: finished jobs are kept, training resumes"),
)


def next_check_seconds(wave_seconds: float, init: float, min_job_age: float | None = None) -> float:
    """Seconds until the next status check when the current wave has run ``wave_seconds``.

    A tenth of the wave's age, at least ``init`` (the profile's
    ``slurm-weakseg-init-seconds-before-status-checks``) and at most :data:`MAX_CHECK_SECONDS`
    or half the cluster's ``MinJobAge`` (seconds a finished job stays listed; ``squeue`` would
    not see a job that ended and left the list between two checks, and the run would wait for
    it for ever): a job is noticed at most about 10% of its wave's length (or ``init``) after it ends.
    """
    longest = MAX_CHECK_SECONDS if not min_job_age else max(init, min(MAX_CHECK_SECONDS, min_job_age / 2))
    return float(min(longest, max(init, CHECK_FRACTION * wave_seconds)))


def advice(cause: str, rules: Iterable[str]) -> str:
    """What to change for a failure: the config keys of ``rules`` that ``cause`` points to.

    Args:
        cause: a SLURM job state (``TIMEOUT``), pending reason (``PartitionConfig``) or sbatch's
            error message.
        rules: the rules of the failed job (several for a group job).

    Returns:
        One sentence naming ``resources.rules.<rule>.<key>`` for each rule and key, or a pointer
        to the job's logs when the cause is not one of those known.
    """
    rules = sorted(set(rules))
    for pattern, keys, what in _ADVICE:
        if re.search(pattern, cause, re.IGNORECASE):
            if not keys:
                return what
            names = ", ".join(f"resources.rules.{rule}.{key}" for rule in rules for key in keys)
            return f"Change {names} in your config (--configfile; docs/clusters.md): {what}"
    return "See the SLURM log and the rule's log named above"


def slurmstepd_cause(log: str | Path | None) -> str | None:
    """The cause slurmstepd wrote into a job's SLURM log when it ended the job (:data:`SLURMSTEPD_CAUSE`).

    Args:
        log: the job's SLURM log (the plugin's ``aux["slurm_logfile"]``); None or a missing file
            gives None.

    Returns:
        The last match in the log's final :data:`LOG_TAIL_BYTES` bytes (``Exceeded job memory
        limit``, ``DUE TO TIME LIMIT``...), or None.
    """
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - LOG_TAIL_BYTES))
            tail = handle.read().decode(errors="replace")
    except (OSError, TypeError):
        return None
    found = SLURMSTEPD_CAUSE.findall(tail)
    return found[-1] if found else None


def explain(message: str, jobid: str | None, rules: Iterable[str], said: str | None = None) -> str:
    """One line for a failed job: its rules, the cause in SLURM's words and what to change.

    Args:
        message: the SLURM plugin's error message (``SLURM sbatch failed. The error message was
            '<sbatch's stderr>'...`` or ``SLURM-job 'N' failed, SLURM status is: 'TIMEOUT'...``)
            or this module's own (a hopeless pending reason).
        jobid: the SLURM job id (None when sbatch refused the job).
        rules: the rules of the job (several for a group job).
        said: slurmstepd's cause from the job's SLURM log (:func:`slurmstepd_cause`), if any.
    """
    rules = sorted(set(rules))
    state = re.search(r"SLURM status is: '(\w+)'", message)
    refused = re.search(r"The error message was '(.*?)'\.?\n", message, re.DOTALL)
    if refused:
        cause = "sbatch refused the job: " + " ".join(refused.group(1).split())
    elif state:
        cause = f"SLURM job {jobid} ended {state.group(1)}" + (f" (slurmstepd: {said})" if said else "")
    else:
        cause = " ".join(message.split()).rstrip(".")
    return f"{' and '.join(rules)}: {cause}. {advice(cause, rules)}."


def _rules_of(job) -> list[str]:
    return sorted(set(job.rules))  # rule names; a group job's every rule


class Executor(SlurmExecutor):
    """The SLURM plugin's executor with the mends in the module's docstring."""

    def __init__(self, workflow, logger):
        # Set before the plugin's __init__: it starts the status-check thread, whose first check
        # runs at once (the plugin's common_settings wait 0 s), before __post_init__ has run.
        self._wave_started = time.monotonic()
        self._pending_noted: dict[str, tuple[float, float]] = {}  # first seen, last said
        self._min_job_age = get_min_job_age()  # scontrol show config: None where it says nothing
        super().__init__(workflow, logger)

    def additional_general_args(self) -> str:
        """Options of the Snakemake inside each job: it runs the job's rules itself, side by side."""
        return "--executor local"

    def _init_seconds(self) -> float:
        return float(getattr(self.workflow.executor_settings, "init_seconds_before_status_checks", None) or 40)

    async def check_active_jobs(self, active_jobs) -> AsyncGenerator:
        """The plugin's check, then hopeless pending jobs ended, then the next check's time set."""
        running = []
        if active_jobs:
            async for job_info in super().check_active_jobs(active_jobs):
                running.append(job_info)
        now = time.monotonic()
        if len(running) < len(active_jobs) or not active_jobs:
            self._wave_started = now
        try:
            running = self._end_hopeless(running)
        except Exception as error:  # noqa: BLE001 - escaping, it would end the whole run (the thread's error)
            self.logger.error(f"slurm-weakseg: checking pending reasons failed ({error!r}); jobs still followed")
        for job_info in running:
            yield job_info
        self.next_seconds_between_status_checks = next_check_seconds(
            now - self._wave_started, self._init_seconds(), self._min_job_age
        )

    def _end_hopeless(self, running: list) -> list:
        """Cancel and report jobs pending for a reason no wait resolves; mention long waits."""
        pending = self._pending_reasons([j.external_jobid for j in running if j.external_jobid])
        self._pending_noted = {job: times for job, times in self._pending_noted.items() if job in pending}
        still = []
        for job_info in running:
            reason = pending.get(job_info.external_jobid)
            if reason and HOPELESS.match(reason):
                subprocess.run(["scancel", job_info.external_jobid], capture_output=True, timeout=60)
                self.report_job_error(
                    job_info,
                    msg=f"SLURM job {job_info.external_jobid} can never start: pending reason '{reason}'; cancelled.",
                )
                continue
            if reason:
                self._note_pending(job_info, reason)
            still.append(job_info)
        return still

    def _note_pending(self, job_info, reason: str) -> None:
        now = time.monotonic()
        first, noted = self._pending_noted.setdefault(job_info.external_jobid, (now, now))
        if now - noted >= PENDING_NOTE_SECONDS:
            self._pending_noted[job_info.external_jobid] = (first, now)
            self.logger.info(
                f"SLURM job {job_info.external_jobid} ({', '.join(_rules_of(job_info.job))}) has waited "
                f"{(now - first) / 60:.0f} min in the queue: reason '{reason}' "
                f"(squeue -j {job_info.external_jobid} -o '%r %S' shows its expected start)"
            )

    def _pending_reasons(self, jobids: list[str]) -> dict[str, str]:
        if not jobids:
            return {}
        query = ["squeue", "--noheader", "--states", "PENDING", "--jobs", ",".join(jobids), "--format", "%i|%r"]
        try:
            shown = subprocess.run(query, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return {}
        return dict(line.split("|", 1) for line in shown.stdout.split() if "|" in line)

    def report_job_error(self, job_info, msg=None, **kwargs):
        """Log the cause (sbatch's message, the SLURM state) with what to change, then fail the job."""
        said = slurmstepd_cause((job_info.aux or {}).get("slurm_logfile"))
        self.logger.error(explain(msg or "", job_info.external_jobid, _rules_of(job_info.job), said))
        super().report_job_error(job_info, msg=msg, **kwargs)
