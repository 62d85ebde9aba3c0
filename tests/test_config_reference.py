"""One source for every config fact: the schema's defaults and descriptions."""

import subprocess
import sys

import pytest
import yaml
from conftest import REPO

from tools.config_reference import reference_markdown
from weakseg.ops.config import schema_defaults

SCHEMA = yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text())


def test_workflow_config_shows_exactly_the_schema_defaults():
    assert yaml.safe_load((REPO / "workflow_config.yaml").read_text()) == schema_defaults(SCHEMA)


def _keys(node, prefix=""):
    for key, sub in node.get("properties", {}).items():
        yield f"{prefix}{key}", sub
        yield from _keys(sub, f"{prefix}{key}.")


@pytest.mark.parametrize("key,node", list(_keys(SCHEMA)), ids=[k for k, _ in _keys(SCHEMA)])
def test_every_key_has_a_description(key, node):
    assert node.get("description", "").strip(), f"{key} has no description"


def test_the_configuration_reference_is_current():
    result = subprocess.run(
        [sys.executable, str(REPO / "tools/config_reference.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    page = (REPO / "docs/configuration.md").read_text()
    assert reference_markdown(SCHEMA) in page
    assert "| `training.lr` | `0.002` | number, > 0 |" in page


def test_a_stale_reference_is_detected(tmp_path):
    stale = tmp_path / "configuration.md"
    stale.write_text((REPO / "docs/configuration.md").read_text().replace("AdamW learning rate", "Learning rate", 1))
    result = subprocess.run(
        [sys.executable, str(REPO / "tools/config_reference.py"), "--check", "--page", str(stale)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "out of date" in result.stderr
