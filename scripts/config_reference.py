"""Write the README's configuration reference from the config schema (or check that it is current)."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from weakseg.cli import run_main
from weakseg.config import reference_markdown
from weakseg.errors import WeaksegError

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def with_reference(readme: str, reference: str) -> str:
    """``readme`` with the text between the reference markers replaced by ``reference``.

    Raises:
        WeaksegError: the markers are missing.
    """
    if START not in readme or END not in readme:
        raise WeaksegError(f"the README has no {START} ... {END} markers")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{reference}{END}{tail}"


def main() -> None:
    """Parse the command line and rewrite (or check) the README."""
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schema", default=root / "schemas/config.schema.yaml", type=Path)
    parser.add_argument("--readme", default=root / "README.md", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 if the README's reference is out of date")
    args = parser.parse_args()
    readme = args.readme.read_text()
    updated = with_reference(readme, reference_markdown(yaml.safe_load(args.schema.read_text())))
    if args.check:
        if updated != readme:
            raise WeaksegError(f"{args.readme}: the configuration reference is out of date; run {__file__}")
        return
    args.readme.write_text(updated)


if __name__ == "__main__":
    run_main(main)
