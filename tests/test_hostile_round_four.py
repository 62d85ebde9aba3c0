"""Hostile input, round four: each case a red team found getting through, now refused or handled.

Stale or overwritten predictions, NaN that became a class, georeferencing that was lost, labels
and settings that degenerate quietly; every refusal names the file, key or value and the fix.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from conftest import REPO, assert_failed_cleanly, run_stage, write_tiles_csv

from weakseg.formats.tiles import Tile
from weakseg.io.errors import WeaksegError
from weakseg.ops.config import check_config


def _config(**changes) -> dict:
    """The default config (schema defaults are in workflow_config.yaml) with ``section.key[.key]`` values set."""
    config = yaml.safe_load((REPO / "workflow_config.yaml").read_text())
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        node = config
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    return config


# --------------------------------------------------------------------------- resources


@pytest.mark.parametrize(
    "key,value,fragments",
    [
        ("resources.rules.train.mem_mb", -1000, ["resources.rules.train.mem_mb", "-1000", "at least 1 (MB)"]),
        ("resources.rules.train.mem_mb", 0, ["resources.rules.train.mem_mb", "--mem=0", "whole node"]),
        ("resources.rules.train.mem_bm", 8000, ["resources.rules.train.mem_bm", "did you mean 'mem_mb'"]),
        ("resources.job_defaults.gpu_lease", "x", ["resources.job_defaults.gpu_lease", "resources.gpus"]),
        ("resources.job_defaults.runtime", "long", ["resources.job_defaults.runtime", "'long'", "(minutes)"]),
    ],
    ids=["negative-mem", "zero-mem", "misspelt-mem", "reserved-gpu-lease", "text-runtime"],
)
def test_resources_no_job_can_honour_are_refused_naming_the_key(key, value, fragments):
    config = _config(**{key: value})
    with pytest.raises(WeaksegError) as raised:
        check_config(config)
    for fragment in fragments:
        assert fragment in str(raised.value), str(raised.value)


def test_resources_of_other_executors_and_the_defaults_pass():
    check_config(_config(**{"resources.rules.train.googlebatch_image": "x", "resources.rules.train.gpu": 0}))


def test_editing_resources_does_not_change_the_report_params():
    """The report job's params held the whole config, so a mem_mb edit reran it."""
    from weakseg.ops.stages import get_stage

    stage = get_stage("report")
    before = stage.call_json(_config(), None)
    after = stage.call_json(_config(**{"resources.rules.train.mem_mb": 64000}), None)
    assert before == after and "mem_mb" not in before
    assert stage.call_json(_config(**{"training.epochs": 3}), None) != before


# --------------------------------------------------------------------------- weak labels


def test_a_rounding_step_that_overflows_is_refused_by_the_config_check():
    config = _config(**{"weak_labels.noisy_proportions.step": 1e-310, "experiment.weak_kinds": ["noisy_proportions"]})
    with pytest.raises(WeaksegError, match=r"weak_labels.noisy_proportions.step: 1e-310 is finer than 0.001"):
        check_config(config)


def _weak_label_stage(tmp_path, kind: str, options: dict):
    """The weak_labels stage on 4 constructed 8x8 tiles (3 weak, 1 strong); returns the result and its outputs."""
    masks = np.zeros((4, 8, 8), np.uint8)
    masks[:, :, 4:] = 1  # two classes, half each
    masks[3] = 2
    np.save(tmp_path / "masks.npy", masks)
    tiles = [Tile(f"s_y{i:05d}_x00000", "s", i * 8, 0, 1.0) for i in range(4)]
    write_tiles_csv(tmp_path / "tiles.csv", tiles)
    sets = {"strong": [tiles[3].tile_id], "weak": [t.tile_id for t in tiles[:3]], "val": []}
    (tmp_path / "splits.json").write_text(json.dumps({"sets": sets}))
    outputs = {"labels": tmp_path / "out" / "weak_labels.csv", "summary": tmp_path / "out" / "summary.csv"}
    result = run_stage(
        "weak_labels",
        {"dataset": "vaihingen", "kind": kind, "options": options, "seed": 0, "split_seed": 0},
        {"masks": tmp_path / "masks.npy", "tiles": tmp_path / "tiles.csv", "splits": tmp_path / "splits.json"},
        outputs,
    )
    return result, list(outputs.values())


def test_weak_labels_that_overflow_to_nan_are_refused_and_nothing_is_written(tmp_path):
    """Before: the job succeeded with rows of NaN, and training blamed the learning rate."""
    result, outputs = _weak_label_stage(tmp_path, "noisy_proportions", {"concentration": 20.0, "step": 1e-310})
    assert_failed_cleanly(result, outputs, "weak_labels.noisy_proportions", "non-finite", "'step': 1e-310")


def test_weak_labels_empty_on_every_weak_tile_are_refused_with_the_count(tmp_path):
    """presence.threshold 1.0 on tiles that are never one class: every weak tile's tag set is empty."""
    result, outputs = _weak_label_stage(tmp_path, "presence", {"threshold": 1.0})
    assert_failed_cleanly(result, outputs, "weak_labels.presence", "every one of the 3 weak tiles", "'threshold': 1.0")
    result, _ = _weak_label_stage(tmp_path, "presence", {"threshold": 0.5})
    assert result.returncode == 0, result.stderr
    assert "all 3 weak tiles have the same label" in result.stderr  # both classes tagged on each: a warning


def test_points_are_empty_only_where_no_slot_is_used():
    from weakseg.weak.points import POINTS, sample_points

    masks = np.full((2, 4, 4), 255, np.uint8)
    masks[0, 0, 0] = 0  # one labelled pixel of class 0 at row 0, column 0: the label (0, 0, 0) is not empty
    labels = sample_points(masks, 6, 2, np.random.default_rng(0))
    assert POINTS.empty(labels).tolist() == [False, True]


# --------------------------------------------------------------------------- predict


def _predict(tmp_path, images, options=None):
    from test_predict import _saved_model

    from weakseg.datasets import get_dataset
    from weakseg.learn.predict import Windows, predict_images

    model_path = _saved_model(tmp_path / "model.pt")
    palette = get_dataset("figaro1k").palette_array
    return predict_images(model_path, images, tmp_path / "out", Windows(64, 0.25, 4), palette, "cpu", options)


@pytest.mark.parametrize(
    "names,options,shared",
    [
        (("a.tif", "a_probabilities.tif"), {"probabilities": True, "scale": (0, 255)}, "a_probabilities.tif"),
        (("x.png", "x_color.png"), {}, "x_color.png"),
        (("x.png", "x_overlay.jpg"), {}, "x_overlay.png"),
    ],
    ids=["probabilities", "color", "overlay"],
)
def test_inputs_whose_outputs_share_a_name_are_refused_before_anything_is_written(tmp_path, names, options, shared):
    import rasterio
    from PIL import Image

    from weakseg.learn.predict import RasterOptions, folder_images

    folder = tmp_path / "images"
    folder.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    for name in names:
        if name.endswith(".tif"):
            with rasterio.open(folder / name, "w", driver="GTiff", height=40, width=48, count=3, dtype="uint8") as f:
                f.write(pixels.transpose(2, 0, 1))
        else:
            Image.fromarray(pixels).save(folder / name)
    with pytest.raises(WeaksegError) as raised:
        _predict(tmp_path, folder_images(folder), RasterOptions(**options))
    message = str(raised.value)
    assert all(str(folder / name) in message for name in names) and f"both write {shared}" in message
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_an_empty_predict_input_is_refused_naming_the_key():
    with pytest.raises(WeaksegError, match=r"config predict.input: is empty; give a folder of images, or val or test"):
        check_config(_config(**{"predict.input": ""}))


def _float_raster(path, nodata, gcps=None):
    """A 3-band float32 raster of 100 x 120 px whose 40 x 50 top-left corner is NaN (2,000 pixels)."""
    import rasterio
    from rasterio.transform import from_origin

    pixels = np.random.default_rng(1).uniform(0, 255, (3, 100, 120)).astype(np.float32)
    pixels[:, :40, :50] = np.nan
    profile = dict(driver="GTiff", height=100, width=120, count=3, dtype="float32", nodata=nodata)
    if gcps is None:
        profile.update(crs="EPSG:32632", transform=from_origin(500000.0, 5400000.0, 0.5, 0.5))
    else:
        profile.update(gcps=gcps, crs="EPSG:4326")
    with rasterio.open(path, "w", **profile) as raster:
        raster.write(pixels)


@pytest.mark.parametrize("nodata", [float("nan"), None], ids=["nan-nodata", "undeclared"])
def test_nan_pixels_of_a_float_raster_are_nodata_not_a_class(tmp_path, nodata):
    import rasterio

    from weakseg.learn.predict import RasterOptions, folder_images

    (tmp_path / "images").mkdir()
    _float_raster(tmp_path / "images" / "dem.tif", nodata)
    _predict(tmp_path, folder_images(tmp_path / "images"), RasterOptions(scale=(0, 255), probabilities=True))
    with rasterio.open(tmp_path / "out" / "dem.tif") as result:
        classes = result.read(1)
    nan = np.zeros(classes.shape, bool)
    nan[:40, :50] = True
    assert (classes[nan] == 255).all() and int((classes == 255).sum()) == 2000
    with rasterio.open(tmp_path / "out" / "dem_probabilities.tif") as shares:
        assert (shares.read()[:, nan] == 0).all()


def test_gcp_georeferencing_and_its_crs_are_carried_to_the_outputs(tmp_path):
    import rasterio
    from rasterio.control import GroundControlPoint

    from weakseg.learn.predict import RasterOptions, folder_images

    gcps = [
        GroundControlPoint(row=0, col=0, x=8.0, y=49.0),
        GroundControlPoint(row=0, col=120, x=8.01, y=49.0),
        GroundControlPoint(row=100, col=0, x=8.0, y=48.99),
        GroundControlPoint(row=100, col=120, x=8.01, y=48.99),
    ]
    (tmp_path / "images").mkdir()
    _float_raster(tmp_path / "images" / "scan.tif", float("nan"), gcps=gcps)
    options = RasterOptions(scale=(0, 255), probabilities=True, vectors="geojson")
    _predict(tmp_path, folder_images(tmp_path / "images"), options)
    for name in ("scan.tif", "scan_probabilities.tif"):
        with rasterio.open(tmp_path / "out" / name) as result:
            written, crs = result.gcps
            assert crs == rasterio.crs.CRS.from_epsg(4326), name
            assert [(p.row, p.col, p.x, p.y) for p in written] == [(p.row, p.col, p.x, p.y) for p in gcps], name
    # the polygons are in the GCPs' CRS (their affine fit), not in pixel coordinates labelled as degrees
    collection = json.loads((tmp_path / "out" / "scan.geojson").read_text())
    assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4326"
    points = np.array([xy for f in collection["features"] for ring in f["geometry"]["coordinates"] for xy in ring])
    assert len(points) and (points[:, 0] >= 8.0 - 1e-9).all() and (points[:, 0] <= 8.01 + 1e-9).all()
    assert (points[:, 1] >= 48.99 - 1e-9).all() and (points[:, 1] <= 49.0 + 1e-9).all()


def test_a_raster_larger_than_max_megapixels_is_refused_before_any_pixel_is_read(tmp_path):
    """A 19 KB sparse TIFF claiming 200000 x 200000 px started weeks of prediction without a word."""
    import rasterio

    from weakseg.learn.predict import RasterOptions, folder_images

    (tmp_path / "images").mkdir()
    profile = dict(driver="GTiff", height=200_000, width=200_000, count=3, dtype="uint8", tiled=True)
    with rasterio.open(tmp_path / "images" / "huge.tif", "w", sparse_ok=True, **profile):
        pass
    assert (tmp_path / "images" / "huge.tif").stat().st_size < 10**7
    with pytest.raises(WeaksegError) as raised:
        _predict(tmp_path, folder_images(tmp_path / "images"), RasterOptions(max_megapixels=10_000))
    message = str(raised.value)
    assert "huge.tif: 200000 x 200000 px (40,000 Mpx)" in message and "predict.max_megapixels (10,000)" in message
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_a_terminated_predict_job_leaves_no_partial_output(tmp_path):
    """SIGTERM (Snakemake cancelling the job, scancel) ended the process without its clean-up."""
    import signal
    import subprocess
    import sys
    import time

    import rasterio
    from conftest import stage_call
    from test_predict import _saved_model

    (tmp_path / "images").mkdir()
    image = tmp_path / "images" / "big.tif"
    profile = dict(driver="GTiff", height=3000, width=3000, count=3, dtype="uint8", tiled=True)
    with rasterio.open(image, "w", **profile) as raster:
        raster.write(np.random.default_rng(0).integers(0, 255, (3, 3000, 3000), dtype=np.uint8))
    windows = {"window": 256, "overlap": 0.25, "batch_size": 4, "shorter_side": None}
    params = {"dataset": "figaro1k", "source": str(tmp_path / "images"), "windows": windows, "device": "cpu"}
    files = {"model": str(_saved_model(tmp_path / "model.pt")), "images": [str(image)]}
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "scripts/predict.py", *stage_call(params, files, {"predictions": out}), "--gpus", "none"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    staged = tmp_path / ".out.partial"
    deadline = time.monotonic() + 120
    while not list(staged.glob("*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert not out.exists() and not staged.exists()


# --------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("miou", [float("nan"), None], ids=["nan", "null"])
def test_a_run_without_a_finite_miou_is_refused_by_the_summary_not_dropped(tmp_path, miou):
    """A metrics.json with miou NaN dropped out of the statistics, and the answer then said "one run per variant"."""
    run = {"variant": "strong_only", "weak_kind": "none", "strong_fraction": "0.1", "seed": 1, "point": "default"}
    scores = {"miou": miou, "mean_f1": 0.5, "oa": 0.7, "dice": None, "proportion_mae": 0.1}
    info = {"epoch": 3, "selected": "last", "best_epoch": 3, "last_epoch": 3, "val_miou": 0.4}
    metrics = {**run, **scores, **info, "set": "test", "class_names": ["a"], "per_class": {"a": {"iou": 0.4}}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    for name in ("train.tsv", "eval.tsv"):
        (tmp_path / name).write_text("s\th:m:s\n12.5\t0:00:12\n")
    files = {"metrics": [tmp_path / "metrics.json"], "train_benchmarks": [tmp_path / "train.tsv"]}
    files["eval_benchmarks"] = [tmp_path / "eval.tsv"]
    output = tmp_path / "results" / "summary.csv"
    result = run_stage("summary", {}, files, {"summary": output})
    assert_failed_cleanly(result, [output], f"{tmp_path / 'metrics.json'}: miou is", "drop out of the statistics")
    metrics["miou"] = 0.41
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert run_stage("summary", {}, files, {"summary": output}).returncode == 0


# --------------------------------------------------------------------------- outputs


def test_an_immutable_earlier_output_is_named_and_kept_whole(tmp_path):
    """A raw PermissionError named only ``scene.tif``, after the rest of the earlier output was deleted."""
    import shutil
    import subprocess

    from weakseg.io.outputs import staged_outputs

    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) is not installed")
    out = tmp_path / "predictions"
    out.mkdir()
    (out / "scene.png").write_bytes(b"earlier png")
    (out / "scene.tif").write_bytes(b"earlier tif")
    if subprocess.run(["chattr", "+i", str(out / "scene.tif")], capture_output=True).returncode != 0:
        pytest.skip("this file system (or user) cannot make a file immutable")
    try:
        with pytest.raises(WeaksegError) as raised, staged_outputs(out) as (staged,):
            staged.mkdir()
            (staged / "scene.tif").write_bytes(b"new")
        message = str(raised.value)
        assert message.startswith(f"{out / 'scene.tif'}: an earlier output here is write-protected")
        assert "chattr -R -i" in message
        assert (out / "scene.png").read_bytes() == b"earlier png"  # nothing of the earlier output was removed
        assert not (tmp_path / ".predictions.partial").exists()
    finally:
        subprocess.run(["chattr", "-i", str(out / "scene.tif")], check=True)
