"""Snakemake level: the data stages (download -> prepare -> tile -> split -> weak_labels -> augment).

Each test works on a copy of the workflow in tmp_path, with a tiny config given by --configfile.
"""

import contextlib
import csv
import json

import numpy as np
import pytest
import yaml
from conftest import VAIHINGEN_SAMPLE_MD5, copy_workflow, run_snakemake

pytestmark = pytest.mark.pipeline

TARGET_PATTERNS = (
    "results/weak_labels/seed-{seed}/proportions/weak_labels.csv",
    "results/augment/seed-{seed}/strong.yaml",
)


def targets(workdir, config_name) -> list[str]:
    """The data stages' final outputs for the split seed of the config file ``config_name``."""
    seed = (yaml.safe_load((workdir / config_name).read_text()).get("split") or {}).get("seed", 0)
    return [pattern.format(seed=seed) for pattern in TARGET_PATTERNS]


DATA_RULES = {"download", "prepare", "tile", "split", "weak_labels", "augment"}

TINY = {
    "dataset": {"name": "synthetic", "synthetic": {"n_scenes": 4, "height": 128, "width": 128, "seed": 0}},
    "tiling": {"tile_size": 32, "stride": 32, "min_labeled_fraction": 0.5},
    "split": {"fractions": {"strong": 0.25, "weak": 0.5, "val": 0.25}, "group_by": "block", "block_size": 2, "seed": 0},
    "augment": {"preview_tiles": 2},
}


def write_config(workdir, config, name="tiny.yaml"):
    (workdir / name).write_text(yaml.safe_dump(config, sort_keys=False))
    return name


def run_data_stages(workdir, config_name):
    result = run_snakemake(workdir, *targets(workdir, config_name), "--cores", "2", "--configfile", config_name)
    assert result.returncode == 0, f"snakemake failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def planned_jobs(workdir, config_name) -> dict[str, int]:
    """The "Job stats" table of a dry run: rule -> job count ({} when nothing is to be done)."""
    result = run_snakemake(
        workdir,
        *targets(workdir, config_name),
        "--dry-run",
        "--quiet",
        "rules",
        "--cores",
        "2",
        "--configfile",
        config_name,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    if "Job stats:" not in output:
        assert "Nothing to be done" in output, output
        return {}
    lines = output.split("Job stats:", 1)[1].splitlines()
    jobs = {}
    for line in lines[3:]:  # header, "job count", dashes
        parts = line.split()
        if not parts or parts[0] == "total":
            break
        jobs[parts[0]] = int(parts[1])
    assert jobs, output
    return jobs


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    """A completed run of the data stages on the tiny synthetic config."""
    workdir = copy_workflow(tmp_path_factory.mktemp("run_a"))
    name = write_config(workdir, TINY)
    run_data_stages(workdir, name)
    return workdir


def read_weak_labels_csv(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_outputs_of_the_data_stages_are_consistent(synthetic_run):
    tiles_dir = synthetic_run / "data" / "synthetic" / "tiles"
    with open(tiles_dir / "tiles.csv", newline="") as handle:
        tiles = list(csv.DictReader(handle))
    assert len(tiles) > 0 and len(tiles) <= 4 * 16  # 4 scenes of 4 x 4 tiles, minus unlabelled ones
    masks = np.load(tiles_dir / "masks.npy")
    images = np.load(tiles_dir / "images.npy")
    assert masks.shape == (len(tiles), 32, 32) and images.shape == (len(tiles), 32, 32, 3)

    splits = json.loads((synthetic_run / "results" / "split" / "seed-0" / "splits.json").read_text())
    ids = [t["tile_id"] for t in tiles]
    owner = {}
    for name in ("strong", "weak", "val"):
        assert splits["sets"][name], f"set {name} is empty"
        for tile_id in splits["sets"][name]:
            assert tile_id in ids and tile_id not in owner
            owner[tile_id] = name

    header, rows = read_weak_labels_csv(
        synthetic_run / "results" / "weak_labels" / "seed-0" / "proportions" / "weak_labels.csv"
    )
    assert header[:2] == ["tile_id", "set"] and len(header) == 8
    assert [r[0] for r in rows] == ids
    for row, mask in zip(rows, masks, strict=False):
        assert row[1] == owner.get(row[0], "")
        fractions = np.array([float(v) for v in row[2:]])
        assert abs(fractions.sum() - 1) < 1e-6
        labelled = mask[mask != 255]
        np.testing.assert_allclose(fractions, np.bincount(labelled, minlength=6)[:6] / labelled.size, atol=1e-9)

    for name in ("strong.yaml", "weak.yaml", "preview.png"):
        assert (synthetic_run / "results" / "augment" / "seed-0" / name).stat().st_size > 0
    assert not list(synthetic_run.rglob(".*.partial"))


def test_two_runs_give_byte_identical_splits_and_weak_labels(synthetic_run, tmp_path):
    other = copy_workflow(tmp_path / "run_b")
    run_data_stages(other, write_config(other, TINY))
    for relative in (
        "results/split/seed-0/splits.json",
        "results/weak_labels/seed-0/proportions/weak_labels.csv",
        "results/weak_labels/seed-0/proportions/summary.csv",
        "data/synthetic/tiles/tiles.csv",
        "data/synthetic/tiles/masks.npy",
    ):
        assert (synthetic_run / relative).read_bytes() == (other / relative).read_bytes(), relative


def test_nothing_is_planned_after_a_completed_run(synthetic_run):
    assert planned_jobs(synthetic_run, "tiny.yaml") == {}


@contextlib.contextmanager
def edited_config(workdir, section, key, value, name="tiny.yaml"):
    """Edit one value of the run's own config file in place; restore the file afterwards."""
    path = workdir / name
    original = path.read_text()
    config = yaml.safe_load(original)
    target = config
    for part in section:
        target = target.setdefault(part, {})
    assert target.get(key) != value
    target[key] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        yield name
    finally:
        path.write_text(original)


def test_new_split_seed_reruns_split_and_what_follows_only(synthetic_run):
    with edited_config(synthetic_run, ["split"], "seed", 1) as name:
        jobs = planned_jobs(synthetic_run, name)
    assert set(jobs) == {"split", "weak_labels", "augment"}, jobs
    assert all(count == 1 for count in jobs.values())


@pytest.mark.parametrize(
    "section, key, value", [(["weak_labels", "proportions"], "loss", "kl"), (["weak_labels"], "seed", 3)]
)
def test_a_training_option_or_seed_of_a_deterministic_kind_reruns_no_data_stage(synthetic_run, section, key, value):
    with edited_config(synthetic_run, section, key, value) as name:
        assert planned_jobs(synthetic_run, name) == {}


def test_new_stride_reruns_tile_and_what_follows_but_not_download_or_prepare(synthetic_run):
    with edited_config(synthetic_run, ["tiling"], "stride", 16) as name:
        jobs = planned_jobs(synthetic_run, name)
    assert set(jobs) == {"tile", "split", "weak_labels", "augment"}, jobs


def test_new_synthetic_seed_reruns_everything(synthetic_run):
    with edited_config(synthetic_run, ["dataset", "synthetic"], "seed", 5) as name:
        jobs = planned_jobs(synthetic_run, name)
    # prepare jobs appear only after the download checkpoint has run again
    assert {"download", "tile", "split", "weak_labels", "augment"} <= set(jobs) <= DATA_RULES, jobs


def test_real_vaihingen_sample_through_the_data_stages(tmp_path, vaihingen_dir):
    """Equivalent of configs/vaihingen-sample.yaml, with the absolute path of the shared sample."""
    workdir = copy_workflow(tmp_path / "vaihingen")
    config = {
        "dataset": {
            "name": "vaihingen",
            "source": {"folder": str(vaihingen_dir), "md5": dict(VAIHINGEN_SAMPLE_MD5)},
            "labels": "complete",
            "snap_to_palette": True,
        },
        "tiling": {"tile_size": 64, "stride": 64, "min_labeled_fraction": 0.5},
        "split": {"group_by": "block", "block_size": 2},
        "augment": {"preview_tiles": 2},
    }
    run_data_stages(workdir, write_config(workdir, config, "vaihingen.yaml"))

    with open(workdir / "data" / "vaihingen" / "raw" / "scenes.csv", newline="") as handle:
        assert [r["scene"] for r in csv.DictReader(handle)] == ["area4"]
    with open(workdir / "data" / "vaihingen" / "tiles" / "tiles.csv", newline="") as handle:
        tiles = list(csv.DictReader(handle))
    assert len(tiles) > 0
    assert {t["scene"] for t in tiles} == {"area4"}
    # the scene is not a multiple of 64 px: the border-aligned last row and column reach the edges
    height, width = np.load(workdir / "data" / "vaihingen" / "prepared" / "area4" / "label.npy", mmap_mode="r").shape
    assert height % 64 and width % 64
    assert max(int(t["y"]) for t in tiles) + 64 == height and max(int(t["x"]) for t in tiles) + 64 == width
    splits = json.loads((workdir / "results" / "split" / "seed-0" / "splits.json").read_text())
    assert all(len(splits["sets"][name]) > 0 for name in ("strong", "weak", "val")), splits["counts"]
    # the border tiles overlap their neighbours: no pixel may be in two sets
    position = {t["tile_id"]: (int(t["y"]), int(t["x"])) for t in tiles}
    placed = [(position[i], name) for name, ids in splits["sets"].items() for i in ids]
    assert len(placed) == len({p for p, _ in placed})
    for k, ((ya, xa), a) in enumerate(placed):
        for (yb, xb), b in placed[k + 1 :]:
            assert a == b or abs(ya - yb) >= 64 or abs(xa - xb) >= 64, ((ya, xa, a), (yb, xb, b))
    header, rows = read_weak_labels_csv(
        workdir / "results" / "weak_labels" / "seed-0" / "proportions" / "weak_labels.csv"
    )
    assert header[2:] == ["impervious_surfaces", "building", "low_vegetation", "tree", "car", "clutter"]
    assert len(rows) == len(tiles)
    for row in rows:
        assert abs(sum(float(v) for v in row[2:]) - 1) < 1e-6
    assert not (workdir / "data" / "vaihingen" / "archives").exists()  # read in place, not copied


def test_a_failing_step_stops_the_run_with_its_message_and_no_output(tmp_path):
    """Two scenes grouped by scene cannot fill three sets: the schema passes, the split step refuses."""
    workdir = copy_workflow(tmp_path / "failing")
    config = json.loads(json.dumps(TINY))
    config["dataset"]["synthetic"]["n_scenes"] = 2
    config["split"]["group_by"] = "scene"
    result = name = write_config(workdir, config)
    result = run_snakemake(workdir, *targets(workdir, name), "--cores", "2", "--configfile", name)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    log = (workdir / "results" / "logs" / "split" / "seed-0.log").read_text()
    assert "error: split: set" in log and "would be empty: 32 tiles in 2 groups (group_by: scene)" in log
    assert "would be empty" in output  # shown by the profile's show-failed-logs
    assert (workdir / "data" / "synthetic" / "tiles" / "tiles.csv").exists()  # the steps before it ran
    for relative in (
        "results/split/seed-0/splits.json",
        "results/weak_labels/seed-0/proportions/weak_labels.csv",
        "results/augment/seed-0/strong.yaml",
    ):
        assert not (workdir / relative).exists(), relative
    assert not list(workdir.rglob(".*.partial"))
