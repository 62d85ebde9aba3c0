"""Collect every run's scores and wall times into ``results/summary.csv``: rule ``summary``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.cli import run_main
from weakseg.errors import WeaksegError
from weakseg.summary import summary_row, write_summary


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", nargs="+", required=True, help="metrics.json of every run")
    parser.add_argument(
        "--train-benchmarks", nargs="+", required=True, help="the train job's benchmark TSV, one per run"
    )
    parser.add_argument(
        "--eval-benchmarks", nargs="+", required=True, help="the evaluate job's benchmark TSV, one per run"
    )
    parser.add_argument("--out", required=True, help="summary.csv")
    args = parser.parse_args()
    if not len(args.metrics) == len(args.train_benchmarks) == len(args.eval_benchmarks):
        raise WeaksegError("summary: give one metrics file and two benchmark files per run, in the same order")
    paths = zip(args.metrics, args.train_benchmarks, args.eval_benchmarks, strict=False)
    rows = [summary_row(*run_paths) for run_paths in paths]
    write_summary(args.out, rows)


if __name__ == "__main__":
    run_main(main)
