"""Hostile and clumsy input: file names that are shell code, silently mixed or dropped data.

Each test here is a case that a red team found getting through (shell execution from a file
name, synthetic frames mixed into real data, a dropped unlabelled image, an unknown city).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, copy_workflow, run_snakemake
from PIL import Image

from weakseg.data.download import download
from weakseg.io.errors import WeaksegError
from weakseg.ops.config import check_config

HOSTILE_CITY = "beta$(touch PWNED)"
#: A value of a shell line that is safe unquoted: an option string
#: the rules build with shlex.join (weakseg never puts them on a shell unquoted).
PREQUOTED = {"resources.gpu_lease"}


def _frame(root: Path, split: str, city: str, stem: str) -> None:
    """One annotated Cityscapes frame (64 x 128 px) in the official layout under ``root``."""
    rng = np.random.default_rng(0)
    label = np.where(np.arange(64)[:, None] < 32, 7, 11).astype(np.uint8) * np.ones((1, 128), np.uint8)
    for folder, suffix, array in (
        ("gtFine", "gtFine_labelIds", label),
        ("leftImg8bit", "leftImg8bit", rng.integers(0, 255, (64, 128, 3), dtype=np.uint8)),
    ):
        path = root / folder / split / city / f"{stem}_{suffix}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)


def _hostile_folder(root: Path) -> Path:
    _frame(root, "train", "aachen", "aachen_000000_000019")
    _frame(root, "train", HOSTILE_CITY, f"{HOSTILE_CITY}_000001_000019")
    return root


def test_every_value_on_a_rule_shell_line_is_quoted():
    """A static guard: every rule runs its stage's shell line, and every value on it is quoted."""
    from weakseg.ops.stages import STAGE_MODULES, get_stage

    seen = set()
    rule_blocks = r"\n(?:rule|checkpoint) (\w+):\n(?:    .*\n|\n)*?    shell:\n((?:        .*\n)+)"
    for path in sorted((REPO / "rules").glob("*.smk")):
        for rule, block in re.findall(rule_blocks, "\n" + path.read_text()):
            assert block.strip() == f'stage_shell("{rule}")', f"{path.name}: rule {rule} runs {block.strip()}"
            seen.add(rule)
    assert seen == set(STAGE_MODULES)
    unquoted = []
    for name in STAGE_MODULES:
        for field, quoted in re.findall(r"\{([a-z_.]+)(:q)?\}", get_stage(name).shell):
            if not quoted and field not in PREQUOTED:
                unquoted.append(f"{name}: {{{field}}}")
    assert not unquoted, f"shell values without :q: {unquoted}"


def test_a_shell_command_in_a_file_name_never_runs(tmp_path):
    """The red team's case: a frame named ``beta$(touch PWNED)_...`` ran ``touch PWNED`` in prepare."""
    workdir = copy_workflow(tmp_path / "wf")
    folder = _hostile_folder(tmp_path / "cityscapes")
    config = {
        "dataset": {"name": "cityscapes", "source": {"folder": str(folder)}},
        "experiment": {"seeds": [0], "variants": ["strong_only"], "methods": []},
    }
    (workdir / "hostile.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, "results/split/seed-0/splits.json", "--cores", "1", "--configfile", "hostile.yaml")
    assert result.returncode != 0
    assert not list(tmp_path.rglob("PWNED")) and not (workdir / "PWNED").exists()
    log = (workdir / "results/logs/download/cityscapes.log").read_text()
    assert f"scene id 'train_{HOSTILE_CITY}_000001_000019' is not a safe file name" in log
    assert f"{HOSTILE_CITY}_000001_000019_leftImg8bit.png" in log and "rename that file" in log
    assert not (workdir / "data/cityscapes/raw").exists()


def test_a_hostile_member_of_a_zip_archive_is_named_and_nothing_is_kept(tmp_path):
    folder = _hostile_folder(tmp_path / "cityscapes")
    archives = tmp_path / "archives"
    archives.mkdir()
    for name, top in (("gtFine_trainvaltest.zip", "gtFine"), ("leftImg8bit_trainvaltest.zip", "leftImg8bit")):
        with zipfile.ZipFile(archives / name, "w") as handle:
            for path in sorted((folder / top).rglob("*.png")):
                handle.write(path, path.relative_to(folder).as_posix())
    skip = {"gtFine_trainvaltest.zip": "skip", "leftImg8bit_trainvaltest.zip": "skip"}
    with pytest.raises(WeaksegError, match=re.escape(f"'train_{HOSTILE_CITY}_000001_000019' is not a safe file name")):
        download(tmp_path / "raw", {"name": "cityscapes", "source": {"folder": str(archives), "md5": skip}})
    assert not (tmp_path / "raw").exists() and not list(tmp_path.rglob("PWNED"))


def test_a_city_with_a_space_is_named_not_split_into_arguments(tmp_path):
    root = tmp_path / "cityscapes"
    _frame(root, "train", "new york", "new york_000001_000019")
    with pytest.raises(WeaksegError, match="'train_new york_000001_000019' is not a safe file name"):
        download(tmp_path / "raw", {"name": "cityscapes", "source": {"folder": str(root)}})


def test_unsafe_names_in_the_config_are_refused_before_any_job(tmp_path):
    config = _defaults()
    config["dataset"].update(name="cityscapes", cities=["new york"])
    with pytest.raises(WeaksegError, match=r"config dataset.cities: .*'new york' is not a safe file name"):
        check_config(config)


def test_an_image_without_its_label_is_an_error_naming_it(tmp_path):
    root = tmp_path / "cityscapes"
    _frame(root, "train", "aachen", "aachen_000000_000019")
    _frame(root, "train", "aachen", "aachen_000001_000019")
    (root / "gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png").unlink()
    _frame(root, "val", "frankfurt", "frankfurt_000000_000019")
    (root / "gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(WeaksegError, match=r"2 image\(s\) .* have no gtFine label") as error:
        download(tmp_path / "raw", {"name": "cityscapes", "source": {"folder": str(root)}})
    assert "gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png" in str(error.value)
    assert not (tmp_path / "raw").exists()


def test_an_unknown_city_is_an_error_naming_it(tmp_path):
    root = tmp_path / "cityscapes"
    _frame(root, "train", "aachen", "aachen_000000_000019")
    settings = {"name": "cityscapes", "source": {"folder": str(root)}, "cities": ["aachen", "achen"]}
    with pytest.raises(WeaksegError, match="dataset.cities: no labelled frame of achen"):
        download(tmp_path / "raw", settings)
    assert [s.scene for s in download(tmp_path / "raw", {**settings, "cities": ["aachen"]})] == [
        "train_aachen_000000_000019"
    ]


def _defaults() -> dict:
    from weakseg.ops.config import schema_defaults

    return schema_defaults(yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text()))


def _layered(*files: str) -> dict:
    """Configs merged as ``--configfile`` does (Snakemake's update_config: mappings merge key by key)."""
    from snakemake.utils import update_config

    config = _defaults()
    for name in files:
        update_config(config, yaml.safe_load((REPO / name).read_text()))
    return config


def test_synthetic_cities_never_mix_with_real_data_unless_asked(tmp_path):
    real = _layered("configs/cityscapes.yaml")
    check_config(real)  # the real-data config alone: no synthetic frame
    demo = _layered("configs/cityscapes.yaml", "configs/cityscapes-demo.yaml")
    check_config(demo)  # the demo asks for the mix explicitly
    # The red team's case: "synthetic_cities: {}" layered on the demo clears nothing (mappings merge).
    from snakemake.utils import update_config

    cleared = _layered("configs/cityscapes.yaml", "configs/cityscapes-demo.yaml")
    update_config(cleared, {"dataset": {"synthetic_cities": {}, "mix_synthetic": False}})
    assert cleared["dataset"]["synthetic_cities"] == {"train": 10, "val": 1}
    with pytest.raises(WeaksegError, match="config dataset.synthetic_cities: .* would add synthetic demo frames"):
        check_config(cleared)
    root = tmp_path / "cityscapes"
    _frame(root, "train", "aachen", "aachen_000000_000019")
    synthetic = {"n_scenes": 1, "height": 64, "width": 128, "seed": 0}
    settings = {
        "name": "cityscapes",
        "source": {"folder": str(root)},
        "synthetic_cities": {"train": 1},
        "synthetic": synthetic,
    }
    with pytest.raises(WeaksegError, match="dataset.mix_synthetic: true"):
        download(tmp_path / "raw", settings)
    assert not (tmp_path / "raw").exists()
    mixed = download(tmp_path / "raw", {**settings, "mix_synthetic": True})
    assert sorted(s.scene for s in mixed) == ["train_aachen_000000_000019", "train_synthtrain0_000000_000019"]
