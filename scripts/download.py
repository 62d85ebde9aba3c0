"""Download (or generate) a dataset's raw scenes: rule ``download``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the weakseg package, also in a conda env

from weakseg.cli import json_arg, run_main
from weakseg.download import download


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", type=json_arg, required=True, help="the dataset config section, as JSON")
    parser.add_argument("--out", required=True, help="raw data folder to create")
    args = parser.parse_args()
    download(args.out, args.settings)


if __name__ == "__main__":
    run_main(main)
