"""Every repository path the README and CONTRIBUTING.md name exists (the README once ran a script never committed)."""

from __future__ import annotations

import re

from conftest import REPO

DOCS = ("README.md", "CONTRIBUTING.md")
#: The repository's top-level folders and files: a backticked path or a ``python <path>`` command
#: starting with one of them names a file of the repository.
TOP_LEVEL = (
    *("weakseg/", "tests/", "benchmarks/", "configs/", "rules/", "scripts/", "tools/", "schemas/"),
    *("profiles/", "envs/", "report/", "docs/", ".ci/"),
    *("Snakefile", "dashboard.py", "workflow_config.yaml", "pyproject.toml", "run"),
)
#: A path in backticks, or the script of a ``python`` command.
PATH = re.compile(r"`(\.?[A-Za-z0-9_][A-Za-z0-9_./<>-]*)`|python (?:-m pytest )?([A-Za-z0-9_][A-Za-z0-9_./-]*\.py)")


def named_paths(text: str) -> list[tuple[str, str]]:
    """``(path, what follows it)`` of every repository path ``text`` names, placeholders (``<rule>``) left out."""
    found = []
    for match in PATH.finditer(text):
        path = (match.group(1) or match.group(2)).rstrip(".")
        if "<" in path or not path.startswith(TOP_LEVEL):
            continue
        if path in TOP_LEVEL or any(path.startswith(top) for top in TOP_LEVEL if top.endswith("/")):
            found.append((path, text[match.end() : match.end() + 8]))
    return found


def missing_paths(text: str) -> list[str]:
    """The named paths that do not exist, but for files a worked example creates (marked ``(new)``)."""
    return [path for path, after in named_paths(text) if not (REPO / path).exists() and "(new)" not in after]


def test_every_path_the_docs_name_exists():
    missing = {doc: missing_paths((REPO / doc).read_text(encoding="utf-8")) for doc in DOCS}
    assert not any(missing.values()), f"named but not in the repository: {missing}"


def test_a_path_that_was_never_committed_is_found():
    """The README of 8b0daf7 ran ``benchmarks/sequences.py``, which never existed."""
    text = "Does reading 4 frames help? `python benchmarks/sequences.py` trains ... see `weakseg/learn/models.py`."
    assert missing_paths(text) == ["benchmarks/sequences.py"]
    example = "1. **`weakseg/weak/dominant.py`** (new): a subclass; `tests/test_<name>.py`"
    assert missing_paths(example) == []  # a worked example's new file and a placeholder
