"""Adding a dataset takes one adapter module and one registry entry: shown with a test-only dataset.

``CHECKER`` below is that adapter (two classes painted as a checkerboard, written as plain PNGs
with colour-coded labels). It is registered by one entry in ``DATASETS`` (here monkeypatched; in
the package, a line of ``weakseg/datasets/__init__.py``), plus, for configs, one value of the
schema's ``dataset.name`` enum and a config file. The download, prepare, tile and weak-label
stages then run on it unchanged, and the config check asks it what it can do.
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from conftest import REPO, tile_files
from PIL import Image

from weakseg.datasets import DATASETS, DatasetAdapter, SceneFiles, get_dataset
from weakseg.formats.tiles import read_tiles
from weakseg.io.errors import WeaksegError
from weakseg.ops.config import check_sequences, schema_defaults
from weakseg.ops.stages import get_stage


@dataclass(frozen=True)
class CheckerDataset(DatasetAdapter):
    """Test-only dataset: ``checker.n_scenes`` scenes of 64 x 64 px, squares of 16 px."""

    def fetch_scenes(self, raw_dir: Path, settings: dict) -> list[SceneFiles]:
        scenes = []
        for i in range(settings["checker"]["n_scenes"]):
            yy, xx = np.mgrid[:64, :64]
            index = (((yy // 16) + (xx // 16) + i) % 2).astype(np.uint8)
            image = np.stack([index * 200 + 20] * 3, axis=-1).astype(np.uint8)
            Image.fromarray(image).save(raw_dir / f"s{i}.png")
            Image.fromarray(self.palette_array[index]).save(raw_dir / f"s{i}_label.png")
            scenes.append(SceneFiles(f"s{i}", f"s{i}.png", f"s{i}_label.png"))
        return scenes


CHECKER = CheckerDataset(
    name="checker",
    class_names=("dark", "light"),
    palette=((0, 0, 255), (255, 255, 0)),
    download_keys=("checker",),
)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(DATASETS, "checker", "test_dataset_seam:CHECKER")
    return get_dataset("checker")


def test_the_stages_run_on_the_new_dataset(registered, tmp_path):
    config = schema_defaults(yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text()))
    config["dataset"] = {**config["dataset"], "name": "checker", "checker": {"n_scenes": 2}}
    config["tiling"].update(tile_size=32, stride=32)
    wildcards = SimpleNamespace(dataset="checker", scene="s1", split_seed="0")

    def run(name, input, output):
        stage = get_stage(name)
        params = stage.params.from_config(config, wildcards)
        as_text = {k: [str(p) for p in v] if isinstance(v, list) else str(v) for k, v in input.items()}
        stage.run(params, SimpleNamespace(**as_text), SimpleNamespace(**{k: str(v) for k, v in output.items()}), 1)
        return params

    params = run("download", {}, {"raw": tmp_path / "raw"})
    assert params.settings == {"name": "checker", "scenes": None, "checker": {"n_scenes": 2}, "sequence_length": 1}
    prepared = tmp_path / "prepared"
    for scene in ("s0", "s1"):
        wildcards.scene = scene
        run("prepare", {"raw": tmp_path / "raw"}, {k: prepared / scene / f"{k}.npy" for k in ("image", "label")})
    label = np.load(prepared / "s1" / "label.npy")
    assert label[0, 0] == 1 and label[0, 16] == 0  # scene 1 starts light
    images = [prepared / s / "image.npy" for s in ("s0", "s1")]
    labels = [prepared / s / "label.npy" for s in ("s0", "s1")]
    tiles = dataclasses.asdict(tile_files(tmp_path / "tiles"))
    run("tile", {"images": images, "labels": labels}, tiles)
    assert len(read_tiles(tiles["tiles"])) == 8


def test_the_config_check_asks_the_adapter(registered):
    config = schema_defaults(yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text()))
    config["dataset"]["name"] = "checker"
    config["sequence"]["length"], config["model"]["arch"] = 4, "ResNetConvLSTM"
    with pytest.raises(WeaksegError, match="dataset checker has no frame sequences"):
        check_sequences(config)
