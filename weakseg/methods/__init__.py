"""Layer 3: weak-supervision methods, a registry: how a kind of weak label is used (the study's second axis).

Adding a method: one module defining a :class:`weakseg.methods.method.Method` (its variants,
arm, controls and step hooks), one entry in :data:`METHODS` (the schema's
``experiment.methods`` enum is tested against it) and tests. Imports the layers below.
"""

from __future__ import annotations

from weakseg.io.errors import WeaksegError
from weakseg.io.registry import lookup
from weakseg.methods.method import Method, Variant

#: A value of ``experiment.methods`` -> ``module:attribute`` of the method (imported when first asked for).
METHODS: dict[str, str] = {
    "pretrain_finetune": "weakseg.methods.pretrain_finetune:PRETRAIN_FINETUNE",
    "joint": "weakseg.methods.joint:JOINT",
    "consistency": "weakseg.methods.consistency:CONSISTENCY",
    "pseudo_masks": "weakseg.methods.pseudo_masks:PSEUDO_MASKS",
}


def get_method(name: str) -> Method:
    """The method registered as ``name``.

    Raises:
        WeaksegError: unknown name, naming ``experiment.methods`` and the known methods.
    """
    return lookup(METHODS, name, key="experiment.methods", what="method")


def method_variants() -> list[Variant]:
    """Every registered method's variants, in registry order.

    Raises:
        WeaksegError: two methods define a variant of the same name differently.
    """
    found: dict[str, Variant] = {}
    for name in METHODS:
        for variant in get_method(name).variants:
            if found.setdefault(variant.name, variant) != variant:
                raise WeaksegError(f"method {name} redefines variant {variant.name!r}; give its variant another name")
    return list(found.values())


__all__ = ["METHODS", "Method", "Variant", "get_method", "method_variants"]
