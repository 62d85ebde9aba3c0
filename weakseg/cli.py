"""Shared plumbing for the command-line entry points in ``scripts/``."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

from weakseg.errors import WeaksegError


def run_main(main: Callable[[], None]) -> None:
    """Run ``main`` with logging to stderr; a :class:`WeaksegError` exits 1 with its message.

    Other exceptions keep their traceback (they are bugs, not bad input).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        main()
    except WeaksegError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


def json_arg(text: str) -> dict:
    """Argparse ``type=`` for a JSON object given on the command line (Snakemake ``params``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise WeaksegError(f"not valid JSON: {text!r} ({error})") from error
    if not isinstance(value, dict):
        raise WeaksegError(f"expected a JSON object, got {text!r}")
    return value


def write_json(path, data: dict) -> None:
    """Write ``data`` as indented JSON with sorted keys, so reruns give byte-identical files."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
