"""Build the self-contained HTML report from summary.csv and the run files: rule ``report``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.cli import json_arg, run_main
from weakseg.report import ReportInputs, build_report


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config-json", type=json_arg, required=True, help="the full workflow config, as JSON")
    parser.add_argument("--dataset", required=True)
    for name in (
        "summary",
        "tiles",
        "images",
        "masks",
        "splits",
        "weak-labels",
        "weak-summary",
        "preview",
        "template",
        "css",
    ):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--stats", type=Path, default=None, help="stats.json: the band statistics shown")
    parser.add_argument("--main-runs", nargs="+", required=True, help="run folders variant/strong-F/seed-S/default")
    for name in ("histories", "confusions", "predictions"):
        parser.add_argument(f"--{name}", type=Path, nargs="+", required=True, help="one per main run, in order")
    parser.add_argument("--benchmarks", type=Path, nargs="*", default=[], help="Snakemake benchmark TSV files")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    inputs = ReportInputs(
        config=args.config_json,
        dataset=args.dataset,
        summary=args.summary,
        tiles=args.tiles,
        images=args.images,
        masks=args.masks,
        splits=args.splits,
        weak_labels=args.weak_labels,
        weak_summary=args.weak_summary,
        preview=args.preview,
        template=args.template,
        css=args.css,
        main_runs=tuple(args.main_runs),
        histories=tuple(args.histories),
        confusions=tuple(args.confusions),
        predictions=tuple(args.predictions),
        benchmarks=tuple(args.benchmarks),
        stats=args.stats,
    )
    build_report(inputs, args.out)


if __name__ == "__main__":
    run_main(main)
