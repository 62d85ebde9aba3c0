"""The lookup behind every registry (datasets, weak-label kinds, methods): a name -> ``module:attribute``.

A registry maps each name a config may use to where its object lives; the module is imported
when the name is first asked for, so a job imports only what it uses (``cityscapesscripts`` only
for Cityscapes).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from weakseg.io.errors import WeaksegError


def lookup(registry: Mapping[str, str], name: str, *, key: str, what: str) -> object:
    """The object registered as ``name``: ``registry[name]`` is ``"package.module:ATTRIBUTE"``.

    Args:
        registry: name -> ``module:attribute``.
        name: the value the config gave.
        key: the config key that gave it (``dataset.name``), named in the error.
        what: what a registry entry is (``dataset``), named in the error.

    Raises:
        WeaksegError: ``name`` is not registered; the message names ``key`` and the known names.
    """
    if name not in registry:
        raise WeaksegError(f"{key}: unknown {what} {name!r} (known: {', '.join(sorted(registry))})")
    module, attribute = registry[name].split(":")
    return getattr(importlib.import_module(module), attribute)
