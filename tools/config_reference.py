"""Write the configuration reference (docs/configuration.md) from the config schema (or check that it is current).

A developer tool, not part of the runtime package: ``python tools/config_reference.py [--check]``.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json

import yaml

from weakseg.io.errors import WeaksegError
from weakseg.ops.cli import run_main
from weakseg.ops.config import _is_section

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def with_reference(readme: str, reference: str) -> str:
    """``readme`` with the text between the reference markers replaced by ``reference``.

    Raises:
        WeaksegError: the markers are missing.
    """
    if START not in readme or END not in readme:
        raise WeaksegError(f"the page has no {START} ... {END} markers")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{reference}{END}{tail}"


def _allowed(node: dict) -> str:
    if "enum" in node:
        return " \\| ".join("null" if v is None else str(v) for v in node["enum"])
    bounds = []
    for word, symbol in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if word in node:
            bounds.append(f"{symbol} {node[word]}")
    kinds = node.get("type", "array" if "$ref" in node else "")
    kinds = " or ".join(kinds) if isinstance(kinds, list) else kinds
    return ", ".join([kinds, *bounds]) if bounds else kinds


def _default_text(value) -> str:
    return "null" if value is None else json.dumps(value) if not isinstance(value, str) else value


def reference_markdown(schema: dict) -> str:
    """The configuration reference: one table per section (key, default, allowed, meaning)."""
    lines = []
    for section, node in schema["properties"].items():
        lines += [
            f"**`{section}`**: {node.get('description', '')}",
            "",
            "| key | default | allowed | meaning |",
            "| --- | --- | --- | --- |",
        ]
        lines += [_reference_row(f"{section}.{key}", sub) for key, sub in _leaves(node)]
        lines.append("")
    return "\n".join(lines)


def _leaves(node: dict, prefix: str = ""):
    for key, sub in node.get("properties", {}).items():
        if _is_section(sub):
            yield from _leaves(sub, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", sub


def _reference_row(key: str, node: dict) -> str:
    default = f"`{_default_text(node['default'])}`" if "default" in node else "required"
    meaning = node.get("description", "").replace("|", "\\|")
    return f"| `{key}` | {default} | {_allowed(node)} | {meaning} |"


def main() -> None:
    """Parse the command line and rewrite (or check) the configuration page."""
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schema", default=root / "schemas/config.schema.yaml", type=Path)
    parser.add_argument("--page", default=root / "docs/configuration.md", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page's reference is out of date")
    args = parser.parse_args()
    page = args.page.read_text()
    updated = with_reference(page, reference_markdown(yaml.safe_load(args.schema.read_text())))
    if args.check:
        if updated != page:
            raise WeaksegError(f"{args.page}: the configuration reference is out of date; run {__file__}")
        return
    args.page.write_text(updated)


if __name__ == "__main__":
    run_main(main)
