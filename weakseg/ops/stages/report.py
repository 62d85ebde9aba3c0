"""Rule ``report``: the self-contained HTML report (:func:`weakseg.report.html.build_report`)."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.design.experiment import main_runs
from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class ReportParams:
    """The config without ``resources`` (the report shows it), the dataset, and the main runs' folders."""

    config: dict
    dataset: str
    main_runs: list[str]

    @classmethod
    def from_config(cls, config: dict, wildcards) -> ReportParams:
        """The config as Snakemake holds it, and the runs at the configured hyperparameters.

        Without ``resources``: what a job asks of a machine never changes a result, so editing
        it must not rerun the report (docs/configuration.md: resources never rerun a job).
        """
        shown = {key: value for key, value in config.items() if key != "resources"}
        return cls(shown, config["dataset"]["name"], [run.path for run in main_runs(config)])


def run(params: ReportParams, input, output, threads: int) -> None:
    """Render the report of the named inputs to ``output.report``."""
    from pathlib import Path

    from weakseg.report.html import ReportInputs, build_report

    single = ("summary", "tiles", "images", "masks", "class_pixels", "splits", "weak_labels", "weak_summary", "preview")
    inputs = ReportInputs(
        config=params.config,
        dataset=params.dataset,
        **{name: Path(getattr(input, name)) for name in (*single, "template", "css")},
        main_runs=tuple(params.main_runs),
        **{name: tuple(map(Path, getattr(input, name))) for name in ("histories", "confusions", "predictions")},
        # a study without pseudo-mask runs has no audits: the rule may then name none
        **{name: tuple(map(Path, getattr(input, name, ()))) for name in ("audits", "audit_previews")},
        benchmarks=tuple(map(Path, input.benchmarks)),
        stats=Path(input.stats) if hasattr(input, "stats") else None,
    )
    build_report(inputs, output.report)


STAGE = Stage("report", ReportParams, run)
