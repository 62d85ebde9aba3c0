"""Rule ``summary``: every run's scores and wall times in ``results/summary.csv``."""

from __future__ import annotations

from weakseg.ops.stage import NoParams, Stage


def run(params: NoParams, input, output, threads: int) -> None:
    """One row per run from ``input.metrics``, ``input.train_benchmarks``, ``input.eval_benchmarks`` (same order)."""
    from weakseg.formats.summary import write_summary
    from weakseg.io.errors import WeaksegError
    from weakseg.report.summary import summary_row

    if not len(input.metrics) == len(input.train_benchmarks) == len(input.eval_benchmarks):
        raise WeaksegError("summary: give one metrics file and two benchmark files per run, in the same order")
    paths = zip(input.metrics, input.train_benchmarks, input.eval_benchmarks, strict=True)
    write_summary(output.summary, [summary_row(*run_paths) for run_paths in paths])


STAGE = Stage("summary", NoParams, run)
