"""Names that become file names and command-line words: scene ids, cities, grid-point labels.

A scene id becomes ``data/<dataset>/prepared/<scene>/`` and a word of the ``prepare`` job's
command; a grid point becomes a folder of every run path. Rules quote every value they put on
a shell line (Snakemake's ``{x:q}``), and these checks add a second line of defence: a name
made of anything but letters, digits, ``.``, ``_`` and ``-`` is refused where it enters the
pipeline, naming it, so it never reaches a path or a shell.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from weakseg.io.errors import WeaksegError

#: A path-safe name: letters, digits, ``.``, ``_`` and ``-``, not starting with ``.`` or ``-``
#: (no hidden files, no option-like words). Also the ``scene`` wildcard's constraint.
SAFE_NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
_SAFE_NAME = re.compile(SAFE_NAME_PATTERN)


def is_safe_name(name: str) -> bool:
    """Whether ``name`` matches :data:`SAFE_NAME_PATTERN` (and is at most 200 characters)."""
    return isinstance(name, str) and len(name) <= 200 and _SAFE_NAME.fullmatch(name) is not None


def check_name(name: str, what: str, fix: str) -> None:
    """Refuse a name that is not path-safe (:data:`SAFE_NAME_PATTERN`).

    Args:
        name: the name, e.g. a scene id.
        what: what the name is and where it came from, e.g. ``"scene id (from file x.png)"``.
        fix: what the user should do, e.g. ``"rename the file"``.

    Raises:
        WeaksegError: ``<what> <name!r> ...`` with the allowed characters and ``fix``.
    """
    if not is_safe_name(name):
        raise WeaksegError(
            f"{what} {name!r} is not a safe file name: only letters, digits, '.', '_' and '-' are allowed "
            f"(not first: '.', '-'; at most 200 characters); {fix}"
        )


def label_value(value) -> str:
    """A grid value as it appears in a grid-point label (one path segment, safe in a shell word).

    Strings stay bare and numbers, booleans and lists are written as JSON, then every character
    other than letters, digits, ``_.-~+`` is percent-encoded (RFC 3986), so a weights path
    ``/w/enc.pth`` becomes ``%2Fw%2Fenc.pth`` and ``0.001`` stays ``0.001``.
    """
    text = value if isinstance(value, str) else json.dumps(value)
    return urllib.parse.quote(text, safe="+")
