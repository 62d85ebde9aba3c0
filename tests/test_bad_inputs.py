"""Bad input: each step exits non-zero with one message naming the file/key/value, and writes nothing.

The real command-line scripts are run as the workflow's rules run them.
"""

import dataclasses
import json
import re
import shutil
import zipfile

import numpy as np
import pytest
import yaml
from conftest import (
    ISPRS_COLORS,
    REPO,
    VAIHINGEN_IMAGES,
    VAIHINGEN_LABELS,
    VAIHINGEN_SAMPLE_MD5,
    assert_failed_cleanly,
    copy_workflow,
    grid_tiles,
    model_spec,
    run_script,
    run_snakemake,
    run_stage,
    stage_call,
    tile_files,
    write_raw_scene,
    write_tiles_csv,
)

from weakseg.ops.stage import files_json

PALETTE = np.array(ISPRS_COLORS, dtype=np.uint8)


def vaihingen_settings(folder, md5=None) -> str:
    return json.dumps(
        {
            "name": "vaihingen",
            "scenes": None,
            "source": {"folder": str(folder), "url": None, "md5": md5 or {}},
            "labels": "complete",
            "bands": None,
        }
    )


def run_download(settings: str, out):
    try:
        call = stage_call({"settings": json.loads(settings)}, {}, {"raw": out})
    except json.JSONDecodeError:
        call = [settings, files_json({}, {"raw": out})]  # the script's own check
    return run_script("download", *call)


def run_prepare(raw, scene, out_dir, snap_max_distance=None, dataset="vaihingen"):
    return run_stage(
        "prepare",
        {"dataset": dataset, "scene": scene, "snap_max_distance": snap_max_distance, "resize": None},
        {"raw": raw},
        {"image": out_dir / scene / "image.npy", "label": out_dir / scene / "label.npy"},
    )


def prepared_outputs(out_dir, scene):
    return [out_dir / scene / "image.npy", out_dir / scene / "label.npy"]


# --------------------------------------------------------------------------- download


def test_missing_archive_says_where_to_put_it(tmp_path):
    folder = tmp_path / "empty_folder"
    folder.mkdir()
    out = tmp_path / "data" / "vaihingen" / "raw"
    result = run_download(vaihingen_settings(folder), out)
    assert_failed_cleanly(
        result,
        [out],
        VAIHINGEN_IMAGES,
        str(folder),
        "dataset.source.folder",
        "dataset.source.url",
        "WEAKSEG_DOWNLOAD_USER",
        "WEAKSEG_DOWNLOAD_PASSWORD",
    )


def sample_copy(tmp_path, vaihingen_dir, labels_archive=None):
    folder = tmp_path / "archives"
    folder.mkdir()
    shutil.copy(vaihingen_dir / VAIHINGEN_IMAGES, folder / VAIHINGEN_IMAGES)
    shutil.copy(labels_archive or vaihingen_dir / VAIHINGEN_LABELS, folder / VAIHINGEN_LABELS)
    return folder


def test_md5_mismatch_fails_and_the_right_override_passes(tmp_path, vaihingen_dir):
    folder = sample_copy(tmp_path, vaihingen_dir)
    out = tmp_path / "data" / "vaihingen" / "raw"
    wrong = dict(VAIHINGEN_SAMPLE_MD5)
    wrong[VAIHINGEN_LABELS] = "0123456789abcdef0123456789abcdef"
    result = run_download(vaihingen_settings(folder, wrong), out)
    assert_failed_cleanly(
        result,
        [out],
        "MD5 mismatch",
        str(folder / VAIHINGEN_LABELS),
        wrong[VAIHINGEN_LABELS],
        VAIHINGEN_SAMPLE_MD5[VAIHINGEN_LABELS],  # the sum to put in the config
        f"dataset.source.md5.{VAIHINGEN_LABELS}",
    )
    # no override: the official sums do not match the sample either
    result = run_download(vaihingen_settings(folder), out)
    assert_failed_cleanly(result, [out], "MD5 mismatch", VAIHINGEN_IMAGES)

    result = run_download(vaihingen_settings(folder, VAIHINGEN_SAMPLE_MD5), out)
    assert result.returncode == 0, result.stderr
    assert (out / "scenes.csv").read_text().splitlines()[1].startswith("area4,")
    assert not list(out.parent.glob(".*.partial"))


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_unsafe_archive_member_is_refused(tmp_path, kind):
    folder = tmp_path / "archives"
    folder.mkdir()
    target = tmp_path / "evil.tif" if kind == "dotdot" else tmp_path / "abs" / "evil.tif"
    member = "../evil.tif" if kind == "dotdot" else str(target)
    with zipfile.ZipFile(folder / VAIHINGEN_IMAGES, "w") as handle:
        handle.writestr("top/top_mosaic_09cm_area1.tif", b"fine")
        handle.writestr(member, b"evil")
    out = tmp_path / "data" / "vaihingen" / "raw"
    md5 = {VAIHINGEN_IMAGES: "skip", VAIHINGEN_LABELS: "skip"}
    result = run_download(vaihingen_settings(folder, md5), out)
    assert_failed_cleanly(result, [out], "unsafe member", repr(member), VAIHINGEN_IMAGES)
    assert not target.exists()
    assert not list(tmp_path.rglob("evil.tif"))


def test_invalid_settings_json_is_refused(tmp_path):
    out = tmp_path / "raw"
    assert_failed_cleanly(run_download("{not json", out), [out], "not a download call")


# --------------------------------------------------------------------------- prepare


def test_unknown_label_colour_names_file_colour_and_count(tmp_path):
    raw = tmp_path / "raw"
    index = np.random.default_rng(0).integers(0, 6, (24, 32))
    label = PALETTE[index]
    label[5:9, 10:15] = (128, 0, 128)  # 20 px of purple, not an ISPRS colour
    _, label_path = write_raw_scene(raw, "area1", np.zeros((24, 32, 3), np.uint8), label)
    out = tmp_path / "prepared"
    result = run_prepare(raw, "area1", out)
    assert_failed_cleanly(result, prepared_outputs(out, "area1"), str(label_path), "RGB(128, 0, 128): 20 px")


def test_dirty_real_label_needs_snapping(tmp_path, vaihingen_dir, vaihingen_dirty_labels):
    folder = sample_copy(tmp_path, vaihingen_dir, labels_archive=vaihingen_dirty_labels)
    raw = tmp_path / "data" / "vaihingen" / "raw"
    md5 = {VAIHINGEN_IMAGES: VAIHINGEN_SAMPLE_MD5[VAIHINGEN_IMAGES], VAIHINGEN_LABELS: "skip"}
    result = run_download(vaihingen_settings(folder, md5), raw)
    assert result.returncode == 0, result.stderr
    label_file = raw / "labels" / "top_mosaic_09cm_area4.tif"
    assert label_file.is_file()
    out = tmp_path / "data" / "vaihingen" / "prepared"

    result = run_prepare(raw, "area4", out)
    assert_failed_cleanly(result, prepared_outputs(out, "area4"), str(label_file), "snap_to_palette")
    # the border blends lie far from every class colour: a small distance is not enough ...
    result = run_prepare(raw, "area4", out, 20.0)
    assert_failed_cleanly(result, prepared_outputs(out, "area4"), str(label_file), "snap_max_distance=20")

    # ... but a blend of two class colours is at most half their distance (<= 441.7 / 2) from one of them
    result = run_prepare(raw, "area4", out, 221.0)
    assert result.returncode == 0, result.stderr
    assert "snapped" in result.stderr
    image, label = np.load(out / "area4" / "image.npy"), np.load(out / "area4" / "label.npy")
    assert image.shape[:2] == label.shape and image.shape[2] == 3
    assert label.max() < 6  # every pixel got a class


def test_image_label_size_mismatch_names_both_files_and_shapes(tmp_path):
    raw = tmp_path / "raw"
    image_path, label_path = write_raw_scene(
        raw, "area2", np.zeros((40, 50, 3), np.uint8), np.full((40, 60, 3), 255, np.uint8)
    )
    out = tmp_path / "prepared"
    result = run_prepare(raw, "area2", out)
    assert_failed_cleanly(result, prepared_outputs(out, "area2"), str(image_path), str(label_path), "40x50", "40x60")


def test_unknown_scene_is_refused(tmp_path):
    raw = tmp_path / "raw"
    write_raw_scene(raw, "area1", np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8))
    out = tmp_path / "prepared"
    assert_failed_cleanly(run_prepare(raw, "area7", out), prepared_outputs(out, "area7"), "'area7'", "scenes.csv")


# --------------------------------------------------------------------------- tile and split


def run_tile(folder, labels: dict, tile_size: int):
    """Run the tile script on scenes ``{scene: (H, W) uint8 label}`` (black images) in ``folder/prepared``."""
    for scene, label in labels.items():
        (folder / "prepared" / scene).mkdir(parents=True)
        np.save(folder / "prepared" / scene / "image.npy", np.zeros((*label.shape, 3), np.uint8))
        np.save(folder / "prepared" / scene / "label.npy", label)
    out = folder / "tiles"
    result = run_stage(
        "tile",
        {
            "tile_size": tile_size,
            "stride": tile_size,
            "min_labeled_fraction": 0.5,
            "shorter_side": None,
            "n_classes": 6,
        },
        {
            "images": [folder / "prepared" / s / "image.npy" for s in labels],
            "labels": [folder / "prepared" / s / "label.npy" for s in labels],
        },
        dataclasses.asdict(tile_files(out)),
    )
    return result, list(dataclasses.asdict(tile_files(out)).values())


def test_tile_larger_than_the_scene_names_scene_and_sizes(tmp_path):
    labels = {"big": np.zeros((128, 128), np.uint8), "small": np.zeros((48, 100), np.uint8)}
    result, outputs = run_tile(tmp_path, labels, 64)
    assert_failed_cleanly(result, outputs, "scene small", "48x100", "64 px", "48 px")


def test_a_scene_with_an_all_ignore_label_is_named(tmp_path):
    labels = {"area1": np.zeros((64, 64), np.uint8), "area2": np.full((64, 64), 255, np.uint8)}
    result, outputs = run_tile(tmp_path, labels, 32)
    assert_failed_cleanly(result, outputs, "scene area2", "no labelled pixel", "dataset.scenes")


def test_a_missing_scenes_index_names_the_file_and_the_fix(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    result = run_snakemake(workflow, "data/synthetic/raw", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    (workflow / "data/synthetic/raw/scenes.csv").unlink()
    result = run_snakemake(workflow, "data/synthetic/tiles/tiles.csv", "--cores", "1")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "data/synthetic/raw/scenes.csv is missing" in output and "Delete the folder data/synthetic/raw" in output


def run_split(tiles_csv, out, fractions, group_by="tile", tile_size=32, stride=32, seed=0):
    params = {
        "dataset": "synthetic",
        "tile_size": tile_size,
        "stride": stride,
        "fractions": fractions,
        "group_by": group_by,
        "block_size": 2,
        "seed": seed,
        "use_official_test": False,
    }
    return run_stage("split", params, {"tiles": tiles_csv}, {"splits": out})


@pytest.fixture
def tiles_csv(tmp_path):
    path = tmp_path / "tiles.csv"
    write_tiles_csv(path, grid_tiles("s0", 96, 96, 32, 32) + grid_tiles("s1", 96, 96, 32, 32))  # 18 tiles
    return path


@pytest.mark.parametrize(
    "fractions,fragments",
    [
        ({"strong": 0.2, "weak": 0.7, "val": 0.2}, ["split.fractions", "sum"]),
        ({"strong": 0, "weak": 0.8, "val": 0.2}, ["split.fractions", "'strong': 0"]),
        ({"strong": 0.3, "weak": 0.7}, ["split.fractions", "val"]),
    ],
)
def test_bad_fractions(tmp_path, tiles_csv, fractions, fragments):
    out = tmp_path / "results" / "splits.json"
    assert_failed_cleanly(run_split(tiles_csv, out, fractions), [out], *fragments)


def test_empty_set_names_tile_count_and_fraction(tmp_path, tiles_csv):
    out = tmp_path / "results" / "splits.json"
    result = run_split(tiles_csv, out, {"strong": 0.02, "weak": 0.78, "val": 0.2})
    assert_failed_cleanly(result, [out], "'strong'", "empty", "18 tiles", "0.02")


def test_group_by_tile_with_overlap(tmp_path, tiles_csv):
    out = tmp_path / "results" / "splits.json"
    result = run_split(tiles_csv, out, {"strong": 0.2, "weak": 0.6, "val": 0.2}, stride=16)
    assert_failed_cleanly(result, [out], "group_by", "stride 16", "tile_size 32")


def test_failed_rerun_keeps_the_previous_good_output(tmp_path, tiles_csv):
    out = tmp_path / "results" / "splits.json"
    assert run_split(tiles_csv, out, {"strong": 0.2, "weak": 0.6, "val": 0.2}).returncode == 0
    good = out.read_bytes()
    result = run_split(tiles_csv, out, {"strong": 0.2, "weak": 0.7, "val": 0.2})
    assert result.returncode != 0 and "split.fractions" in result.stderr
    assert out.read_bytes() == good
    assert not list(out.parent.glob(".*.partial"))


# --------------------------------------------------------------------------- config validation


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("workflow"))


def dry_run(workflow, config: dict, name: str):
    path = workflow / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return run_snakemake(workflow, "results/split/seed-0/splits.json", "-n", "--cores", "1", "--configfile", path.name)


def test_valid_config_dry_run_passes(workflow):
    result = dry_run(workflow, {"tiling": {"tile_size": 32, "stride": 16}, "split": {"group_by": "block"}}, "valid")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "config,fragments",
    [
        ({"tiling": {"tile_size": "big"}}, ["tile_size", "'big' is not of type 'integer'"]),
        ({"tiling": {"min_labeled_fraction": 1.5}}, ["min_labeled_fraction", "1.5"]),
        ({"split": {"fractions": {"strong": 0.1, "weak": 0.7, "val": 1.2}}}, ["val", "1.2"]),
        ({"augment": {"p_colour": 0.5}}, ["p_colour", "augment"]),
        ({"datasett": {"name": "vaihingen"}}, ["datasett"]),
        ({"dataset": {"name": "kitti"}}, ["name", "kitti"]),
        ({"dataset": {"source": {"md5": {"a.zip": "abc"}}}}, ["md5", "abc"]),
        ({"split": {"fractions": {"strong": 0.2, "weak": 0.7, "val": 0.2}}}, ["split.fractions", "1.1"]),
        ({"tiling": {"tile_size": 64, "stride": 80}}, ["tiling.stride", "80"]),
        ({"tiling": {"tile_size": 48, "stride": 48}}, ["tiling.tile_size", "48"]),
        ({"augment": {"gamma": [1.5, 0.5]}}, ["augment.gamma"]),
        ({"tiling": {"tile_size": 64, "stride": 32}, "split": {"group_by": "tile"}}, ["split.group_by", "overlapping"]),
        ({"experiment": {"strong_fractions": [0.1, 0.9]}}, ["experiment.strong_fractions", "0.9", "0.8"]),
        ({"experiment": {"strong_fractions": [0.8]}}, ["experiment.strong_fractions", "0.8", "weak tiles remain"]),
        ({"experiment": {"grid": {"training.learning_rate": [0.1]}}}, ["experiment.grid", "training.learning_rate"]),
        ({"experiment": {"variants": ["strong_only", "semi"]}}, ["variants", "semi"]),
        ({"training": {"batch_size": 1}}, ["batch_size", "1"]),
        ({"training": {"lr": float("nan")}}, ["config training.lr", "nan is not a finite number"]),
        ({"pretraining": {"lr": float("inf")}}, ["config pretraining.lr", "inf is not a finite number"]),
        ({"experiment": {"grid": {"training.lr": [0.001, float("-inf")]}}}, ["experiment.grid.training.lr[1]", "-inf"]),
        (
            {"experiment": {"grid": {"training.batch_size": [1, 8]}}},
            ["experiment.grid.training.batch_size", "minimum of 2"],
        ),
        ({"pretraining": {"loss": "kl"}}, ["config pretraining.loss", "moved to weak_labels.<kind>.loss"]),
        ({"experiment": {"weak_kinds": ["tags"]}}, ["weak_kinds", "tags"]),
        ({"weak_labels": {"presence": {"threshold": 0}}}, ["weak_labels", "presence", "threshold"]),
        ({"resources": {"job_defaults": {"gpu_lease": "x"}}}, ["resources.job_defaults.gpu_lease", "resources.gpus"]),
    ],
    ids=[
        "wrong-type",
        "out-of-range",
        "fraction-above-1",
        "unknown-key",
        "unknown-section",
        "unknown-dataset",
        "bad-md5",
        "fractions-sum",
        "stride-above-tile",
        "tile-not-multiple-of-32",
        "decreasing-range",
        "tile-grouping-with-overlap",
        "strong-fraction-above-pool",
        "strong-fraction-equal-to-pool",
        "unknown-grid-key",
        "unknown-variant",
        "batch-of-one",
        "nan-lr",
        "inf-lr",
        "inf-in-grid",
        "grid-batch-of-one",
        "moved-key",
        "unknown-weak-kind",
        "bad-kind-option",
        "reserved-gpu-lease",  # was a Python TypeError from rules/training.smk
    ],
)
def test_bad_config_fails_before_any_job_naming_the_key(workflow, config, fragments, request):
    result = dry_run(workflow, config, request.node.callspec.id)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    assert not (workflow / "data").exists() and not (workflow / "results").exists()


def test_a_predict_folder_that_does_not_exist_is_named_when_planned(workflow):
    (workflow / "predict-missing.yaml").write_text(yaml.safe_dump({"predict": {"input": "no/such/folder"}}))
    target = "results/predict/strong_only/weak-none/strong-0.1/seed-0/default"
    result = run_snakemake(workflow, target, "-n", "--cores", "1", "--configfile", "predict-missing.yaml")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "predict.input: 'no/such/folder' is not a folder" in output, output
    assert "MissingInputException" not in output


def test_url_with_credentials_is_refused_before_any_job_and_never_stored(workflow):
    config = {"dataset": {"name": "vaihingen", "source": {"url": "https://user:s3cr3t-pw@example.invalid/isprs"}}}
    path = workflow / "credentials.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_snakemake(workflow, "data/vaihingen/raw", "--cores", "1", "--configfile", path.name)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config dataset.source.url" in output and "WEAKSEG_DOWNLOAD_PASSWORD" in output
    assert "s3cr3t-pw" not in output
    assert not (workflow / "data").exists() and not (workflow / "results").exists()
    stored = [p for p in (workflow / ".snakemake").rglob("*") if p.is_file() and b"s3cr3t-pw" in p.read_bytes()]
    assert stored == []


def test_whole_scene_scoring_with_a_split_by_tiles_is_refused_before_any_job():
    from weakseg.io.errors import WeaksegError
    from weakseg.ops.config import check_config

    config = yaml.safe_load((REPO / "workflow_config.yaml").read_text())
    config["evaluation"]["mode"] = "scenes"
    with pytest.raises(WeaksegError, match="config evaluation.mode: 'scenes' needs whole scenes"):
        check_config(config)
    config["split"]["group_by"] = "scene"
    config["evaluation"]["window"] = 100
    with pytest.raises(WeaksegError, match="config evaluation.window: 100 px must be a multiple of 32"):
        check_config(config)
    config["evaluation"]["window"] = 128
    config["training"]["loss"] = "bce"
    with pytest.raises(WeaksegError, match="config training.loss: 'bce' is for binary tasks"):
        check_config(config)


def test_a_grid_over_local_weights_files_plans_and_makes_each_file_a_train_input(workflow):
    """A grid value with '/' and a space (a weights path) is percent-encoded into one path segment."""
    import torch

    from weakseg.learn.models import build_model

    (workflow / "my weights").mkdir(exist_ok=True)
    encoder = build_model(model_spec("FPN", "resnet18", None, 3, 6)).net.encoder.state_dict()
    for name in ("enc a.pth", "enc b.pth"):
        torch.save(encoder, workflow / "my weights" / name)
    files = ["my weights/enc a.pth", "my weights/enc b.pth"]
    config = {
        "experiment": {
            "variants": ["strong_only"],
            "methods": [],
            "seeds": [0],
            "grid": {"model.encoder_weights": files},
        }
    }
    (workflow / "weights-grid.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(workflow, "-n", "--cores", "1", "--configfile", "weights-grid.yaml")
    assert result.returncode == 0, result.stderr
    for name in ("enc a.pth", "enc b.pth"):
        encoded = name.replace(" ", "%20")
        assert f"seed-0/model.encoder_weights~my%20weights%2F{encoded}/model.pt" in result.stdout
        assert re.search(rf"input: .*, my weights/{name}\n", result.stdout)
    config["experiment"]["grid"]["model.encoder_weights"] = ["my weights/typo.pth"]
    (workflow / "weights-grid.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(workflow, "-n", "--cores", "1", "--configfile", "weights-grid.yaml")
    assert (
        result.returncode != 0
        and "config model.encoder_weights: 'my weights/typo.pth'" in result.stdout + result.stderr
    )
