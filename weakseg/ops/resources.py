"""Checks of the config's ``resources`` section: what each job asks of a machine or a cluster.

The schema can only say "an integer or a string"; these checks name what it cannot: a memory
of 0 or less (``--mem=0`` asks SLURM for a whole node), a misspelt resource that Snakemake would
pass on silently, and the resource the workflow sets itself.
"""

from __future__ import annotations

import difflib

from weakseg.io.errors import WeaksegError

#: Resources that Snakemake (standard resources) or its SLURM executor plugin
#: (snakemake-executor-plugin-slurm 2.x: ``slurm_partition``, ``cpus_per_gpu``, ...) reads.
KNOWN_RESOURCES = frozenset(
    {
        *("mem", "mem_mb", "mem_mib", "disk", "disk_mb", "disk_mib", "runtime", "tmpdir"),
        *("gpu", "gpu_model", "gpu_manufacturer", "gres", "cpus_per_gpu", "cpus_per_task", "mem_mb_per_cpu"),
        *("tasks", "tasks_per_gpu", "tasks_per_node", "nodes", "mpi", "constraint", "qos", "clusters"),
        *("slurm_account", "slurm_partition", "slurm_extra", "slurm_cluster"),
    }
)
#: Resources that count something and must be at least 1 (MB, MiB, minutes, CPUs, tasks, nodes).
POSITIVE = ("mem_mb", "mem_mib", "disk_mb", "disk_mib", "runtime", "cpus_per_gpu", "cpus_per_task", "mem_mb_per_cpu")
POSITIVE_COUNTS = ("tasks", "tasks_per_gpu", "tasks_per_node", "nodes")
#: Set by the workflow itself on the GPU rules (the device lease options, weakseg.ops.gpu_lease).
RESERVED = ("gpu_lease",)


def check_resources(resources: dict) -> None:
    """Refuse ``resources.job_defaults`` and ``resources.rules.<rule>`` entries that no job can honour.

    Args:
        resources: the config's ``resources`` section (schema-validated).

    Raises:
        WeaksegError: ``config resources.<where>.<key>: ...`` for a reserved key, a misspelt
            known resource (with the likely name), or a count or size that is not a whole number
            of at least 1 (``gpu``: at least 0).
    """
    sections = {"job_defaults": resources.get("job_defaults") or {}}
    sections.update({f"rules.{rule}": values for rule, values in (resources.get("rules") or {}).items()})
    for where, values in sections.items():
        for key, value in values.items():
            _check_resource(f"resources.{where}.{key}", key, value)


def _check_resource(name: str, key: str, value) -> None:
    if key in RESERVED:
        raise WeaksegError(
            f"config {name}: set by the workflow itself (the GPU lease options of train, evaluate and predict); "
            "remove it and choose devices with resources.gpus and resources.jobs_per_gpu"
        )
    if key not in KNOWN_RESOURCES:
        close = difflib.get_close_matches(key, sorted(KNOWN_RESOURCES), n=1, cutoff=0.75)
        if close:
            raise WeaksegError(
                f"config {name}: {key!r} is no resource Snakemake or its SLURM plugin reads (Snakemake would pass "
                f"it on and nothing would use it); did you mean {close[0]!r}?"
            )
        return  # another executor's resource
    minimum = 0 if key == "gpu" else 1 if key in (*POSITIVE, *POSITIVE_COUNTS) else None
    if minimum is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        unit = " (MB)" if key.startswith(("mem", "disk")) else " (minutes)" if key == "runtime" else ""
        slurm = "; on SLURM --mem=0 would even ask for a whole node's memory" if key == "mem_mb" else ""
        raise WeaksegError(f"config {name}: {value!r} is not a whole number of at least {minimum}{unit}{slurm}")
