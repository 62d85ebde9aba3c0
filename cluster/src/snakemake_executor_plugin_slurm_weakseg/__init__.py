"""The ``slurm-weakseg`` executor plugin: the names Snakemake looks up, from weakseg.ops.slurm_executor."""

from weakseg.ops.slurm_executor import Executor, ExecutorSettings, common_settings

__all__ = ["Executor", "ExecutorSettings", "common_settings"]
