"""Every repository path the docs name exists (the README once ran a script never committed), and every link resolves.

The docs: README.md, CONTRIBUTING.md and the pages under docs/ the README links to.
"""

from __future__ import annotations

import re

from conftest import REPO

DOCS = ("README.md", "CONTRIBUTING.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md")))
#: A relative Markdown link or image: ``[text](target)`` without a scheme.
LINK = re.compile(r"\]\((?!https?:|#|mailto:)([^)#\s]+)")
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


def broken_links(doc: str, text: str) -> list[str]:
    """The relative link targets of ``text`` (a file at ``doc``, relative to the repository) that do not exist."""
    folder = (REPO / doc).parent
    return [target for target in LINK.findall(text) if not (folder / target).exists()]


def test_the_readme_links_every_docs_page_and_every_link_resolves():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    pages = [doc for doc in DOCS if doc.startswith("docs/")]
    assert len(pages) >= 5 and all(f"]({page})" in readme for page in pages), f"pages not linked: {pages}"
    broken = {doc: broken_links(doc, (REPO / doc).read_text(encoding="utf-8")) for doc in DOCS}
    assert not any(broken.values()), f"links to nothing: {broken}"


def test_a_broken_link_is_found():
    assert broken_links("docs/x.md", "[up](../README.md) [web](https://x.org/a) [gone](missing.md)") == ["missing.md"]


def test_every_path_the_docs_name_exists():
    missing = {doc: missing_paths((REPO / doc).read_text(encoding="utf-8")) for doc in DOCS}
    assert not any(missing.values()), f"named but not in the repository: {missing}"


def test_a_path_that_was_never_committed_is_found():
    """The README of 8b0daf7 ran ``benchmarks/sequences.py``, which never existed."""
    text = "Does reading 4 frames help? `python benchmarks/sequences.py` trains ... see `weakseg/learn/models.py`."
    assert missing_paths(text) == ["benchmarks/sequences.py"]
    example = "1. **`weakseg/weak/dominant.py`** (new): a subclass; `tests/test_<name>.py`"
    assert missing_paths(example) == []  # a worked example's new file and a placeholder
