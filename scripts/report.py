"""Build the self-contained HTML report: rule ``report``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.cli import json_arg, run_main
from weakseg.report import ReportInputs, build_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config-json", type=json_arg, required=True, help="the full workflow config, as JSON")
    parser.add_argument("--dataset", required=True)
    for name in ("tiles", "images", "masks", "splits", "weak-labels", "weak-summary", "preview"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--variants", nargs="+", required=True)
    for name in ("histories", "metrics", "per-class", "confusions", "predictions"):
        parser.add_argument(f"--{name}", type=Path, nargs="+", required=True, help="one per variant, in order")
    parser.add_argument("--benchmarks", type=Path, nargs="*", default=[], help="Snakemake benchmark TSV files")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    inputs = ReportInputs(
        config=args.config_json,
        dataset=args.dataset,
        tiles=args.tiles,
        images=args.images,
        masks=args.masks,
        splits=args.splits,
        weak_labels=args.weak_labels,
        weak_summary=args.weak_summary,
        preview=args.preview,
        variants=tuple(args.variants),
        histories=tuple(args.histories),
        metrics=tuple(args.metrics),
        per_class=tuple(args.per_class),
        confusions=tuple(args.confusions),
        predictions=tuple(args.predictions),
        benchmarks=tuple(args.benchmarks),
    )
    build_report(inputs, args.out)


if __name__ == "__main__":
    run_main(main)
