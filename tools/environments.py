"""Check that each rule's conda environment provides every package its script imports.

A rule's script imports ``weakseg`` modules, which import others and third-party packages;
a package missing from the rule's ``conda:`` file fails only when the job runs, on a cluster
after the queue wait. This module reads the rules (``rule``/``checkpoint`` blocks of
``rules/*.smk``, their ``conda:`` file and their script ``scripts/<rule>.py``), follows each
script's imports through the ``weakseg`` package (every ``import`` statement, lazy ones inside
functions included, and the members of its lazy registries), and maps each third-party import to the
distributions that provide it with :func:`importlib.metadata.packages_distributions` (so
this runs in an environment where the workflow's packages are installed, as the test suite's
is). A package counts as provided when the environment lists it or lists a package that
requires it (from the installed packages' metadata).

Run ``python tools/environments.py`` from the project root to print the problems.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

#: conda-forge names whose PyPI distribution is named differently.
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib", "py-opencv": "opencv-python"}
_RULE = re.compile(r"^(?:rule|checkpoint) (\w+):", re.MULTILINE)
_CONDA = re.compile(r"^    conda:\s*\n\s+\"([^\"]+)\"", re.MULTILINE)
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_ENTRY = re.compile(r"weakseg(?:\.\w+)+:[A-Za-z_]\w*")


@dataclass(frozen=True)
class RuleEnvironment:
    """A rule, the environment file its ``conda:`` names and the script its ``shell:`` runs."""

    rule: str
    env_file: Path
    script: Path | None


@dataclass(frozen=True)
class MissingPackage:
    """An import of ``module`` (reached from ``rule``'s script) that ``env_file`` does not provide."""

    rule: str
    env_file: Path
    module: str
    imported: str
    distributions: tuple[str, ...]

    def __str__(self) -> str:
        wanted = " or ".join(self.distributions) or f"a package providing {self.imported!r}"
        return f"rule {self.rule}: {self.module} imports {self.imported!r}, but {self.env_file} lacks {wanted}"


def normalize_name(name: str) -> str:
    """A distribution name in PEP 503 normal form (lower case, runs of ``-_.`` as ``-``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def rule_environments(root: Path) -> list[RuleEnvironment]:
    """Every rule of ``root/rules/*.smk`` with its environment file (resolved) and script.

    Raises:
        ValueError: a rule without a ``conda:`` directive, naming it and its file.
    """
    found = []
    for smk in sorted((root / "rules").glob("*.smk")):
        text = smk.read_text(encoding="utf-8")
        starts = [m.start() for m in _RULE.finditer(text)] + [len(text)]
        for begin, end in zip(starts, starts[1:], strict=False):
            block = text[begin:end]
            rule = _RULE.match(block).group(1)
            conda = _CONDA.search(block)
            if conda is None:
                raise ValueError(f"{smk}: rule {rule} has no conda: environment")
            # Every rule runs scripts/<rule>.py (weakseg.ops.stage.SHELL).
            script = root / "scripts" / f"{rule}.py"
            env_file = (smk.parent / conda.group(1)).resolve()
            found.append(RuleEnvironment(rule, env_file, script if script.is_file() else None))
    return found


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, top_level_only: bool = False) -> tuple[set[str], set[str]]:
    """``(imports, registry entries)`` of ``path``.

    Imports: dotted names imported in ``path`` (``from a import b`` gives ``a`` and ``a.b``),
    inside functions too unless ``top_level_only``. Registry entries: modules named by string
    constants of the form ``"package.module:ATTRIBUTE"`` (the lazy registries of datasets and
    weak-label kinds import their members by such strings).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names, entries = set(), set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _ENTRY.fullmatch(node.value):
            entries.add(node.value.split(":")[0])
    return names, entries


def import_closure(script: Path, root: Path, package: str = "weakseg") -> dict[str, set[str]]:
    """Third-party top-level imports reached from ``script``, by the file that imports them.

    Follows imports of ``package`` (found under ``root``) recursively, and the members of its
    lazy registries; the standard library and ``package`` itself are left out. A registry member
    counts with its module-level imports only: what it imports inside a function belongs to the
    stages that call that function (a weak-label kind's torch loss, not the label the data
    stage computes), and is checked through those stages' own imports; so do the package
    modules a member imports (a kind's shared base, e.g. ``weakseg.weak.dense``).
    Returns ``{file relative to root: {top-level name}}``.
    """
    closure: dict[str, set[str]] = {}
    pending, seen = [(script, False)], set()
    while pending:
        path, member = pending.pop()
        if (path, member) in seen:
            continue
        seen.add((path, member))
        third_party = set()
        names, entries = _imports(path, top_level_only=member)
        for name, is_member in [*((n, False) for n in names), *((e, True) for e in entries)]:
            top = name.split(".")[0]
            if top == package:
                module = _module_file(root, name)
                if module is not None:
                    pending.append((module, is_member or member))
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
        if third_party:
            key = str(path.relative_to(root))
            closure[key] = closure.get(key, set()) | third_party
    return closure


def _listed(env_file: Path) -> set[str]:
    """Normalised distribution names an environment file lists (conda and pip sections)."""
    spec = yaml.safe_load(env_file.read_text(encoding="utf-8")) or {}
    names = set()
    for dependency in spec.get("dependencies") or []:
        entries = dependency.get("pip", []) if isinstance(dependency, dict) else [dependency]
        for entry in entries:
            match = _REQUIREMENT.match(str(entry).split("::")[-1])
            if match:
                name = normalize_name(match.group(0))
                names.add(normalize_name(CONDA_TO_PYPI.get(name, name)))
    return names


def provided(env_file: Path) -> set[str]:
    """Distributions an environment provides, as normalised names.

    Those it lists and, from the installed packages' metadata, everything they require
    (recursively; requirements of extras are left out).
    """
    provided_names, pending = set(), list(_listed(env_file))
    while pending:
        name = pending.pop()
        if name in provided_names:
            continue
        provided_names.add(name)
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for requirement in requirements:
            if "extra ==" in requirement:
                continue
            match = _REQUIREMENT.match(requirement)
            if match:
                pending.append(normalize_name(match.group(0)))
    return provided_names


def missing_packages(root: Path, rules: list[RuleEnvironment] | None = None) -> list[MissingPackage]:
    """Every import of every rule's script closure that the rule's environment does not provide."""
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for entry in rules if rules is not None else rule_environments(root):
        if entry.script is None:
            continue
        available = provided(entry.env_file)
        for module, names in sorted(import_closure(entry.script, root).items()):
            for name in sorted(names):
                candidates = tuple(sorted({normalize_name(d) for d in distributions.get(name, [])}))
                if not set(candidates) & available:
                    missing.append(MissingPackage(entry.rule, entry.env_file, module, name, candidates))
    return missing


def main() -> None:
    """Print every missing package; exit 1 when there is one."""
    problems = missing_packages(Path.cwd())
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
