"""Each rule's conda environment provides every package its script's import closure needs."""

from __future__ import annotations

import ast

import pytest
import yaml
from conftest import REPO

from tools.environments import RuleEnvironment, import_closure, missing_packages, rule_environments

STAGES = {"download", "prepare", "tile", "split", "weak_labels", "augment", "train", "evaluate", "summary"}


def test_every_rule_has_an_environment_and_a_script():
    rules = {entry.rule: entry for entry in rule_environments(REPO)}
    assert STAGES | {"predict", "report"} <= set(rules)
    for entry in rules.values():
        assert entry.env_file.is_file(), entry
        assert entry.script is not None and entry.script.is_file(), entry


def test_the_environments_provide_every_import():
    assert [str(problem) for problem in missing_packages(REPO)] == []


def test_the_closure_follows_weakseg_imports():
    closure = import_closure(REPO / "scripts" / "train.py", REPO)
    assert "torch" in closure["weakseg/learn/training.py"]
    assert "segmentation_models_pytorch" in closure["weakseg/learn/models.py"]
    assert all("weakseg" not in names and "os" not in names for names in closure.values())


def test_an_environment_missing_a_package_is_named(tmp_path):
    spec = yaml.safe_load((REPO / "envs" / "torch.yaml").read_text())
    pip = next(d for d in spec["dependencies"] if isinstance(d, dict))
    pip["pip"] = [p for p in pip["pip"] if not p.startswith("segmentation-models-pytorch")]
    env_file = tmp_path / "torch.yaml"
    env_file.write_text(yaml.safe_dump(spec))
    problems = missing_packages(REPO, [RuleEnvironment("train", env_file, REPO / "scripts" / "train.py")])
    assert problems, "a missing smp went unnoticed"
    assert {p.imported for p in problems} == {"segmentation_models_pytorch"}
    messages = [str(problem) for problem in problems]
    assert all("rule train" in m and "lacks segmentation-models-pytorch" in m for m in messages)
    assert any("weakseg/learn/models.py imports 'segmentation_models_pytorch'" in m for m in messages)


def test_a_rule_without_an_environment_is_refused(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "x.smk").write_text('rule lonely:\n    output:\n        "x"\n    shell:\n        "touch x"\n')
    with pytest.raises(ValueError, match="rule lonely has no conda"):
        rule_environments(tmp_path)


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO / "scripts").glob("*.py")))
def test_scripts_put_the_project_on_sys_path_before_importing_weakseg(script):
    """The environments do not install weakseg: each script finds it next to itself."""
    tree = ast.parse((REPO / "scripts" / script).read_text())
    first_weakseg = min(
        node.lineno
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("weakseg")
    )
    inserts = [
        node.lineno
        for node in tree.body
        if isinstance(node, ast.Expr) and "sys.path.insert" in ast.unparse(node) and "parents[1]" in ast.unparse(node)
    ]
    assert inserts and inserts[0] < first_weakseg
