"""The predict stage on image folders: outputs per image, GeoTIFF tags kept, metrics with ground truth."""

import json

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image
from rasterio.transform import from_origin

from weakseg.datasets import get_dataset
from weakseg.formats.model_record import ModelSpec
from weakseg.io.errors import WeaksegError
from weakseg.learn.models import IMAGENET_MEAN, IMAGENET_STD, build_model
from weakseg.learn.predict import PredictImage, Windows, folder_images, predict_images


def _saved_model(path, classes=("background", "hair")):
    torch.manual_seed(0)
    spec = ModelSpec("FPN", "resnet18", 3, tuple(classes), mean=tuple(IMAGENET_MEAN), std=tuple(IMAGENET_STD))
    model = build_model(spec)
    record = {"state_dict": model.state_dict(), "spec": spec.as_record(), "epoch": 1, "val_miou": None}
    torch.save(record, path)
    return path


def test_predict_writes_masks_colours_and_overlays_and_a_georeferenced_cog(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    transform = from_origin(500000.0, 5400000.0, 0.5, 0.5)
    profile = dict(driver="GTiff", height=70, width=90, count=3, dtype="uint8", crs="EPSG:32632", transform=transform)
    with rasterio.open(images / "scene.tif", "w", **profile) as raster:
        raster.write(rng.integers(0, 256, (3, 70, 90), dtype=np.uint8))
    Image.fromarray(rng.integers(0, 256, (100, 77, 3), dtype=np.uint8)).save(images / "small.png")
    (images / "notes.txt").write_text("not an image")
    model = _saved_model(tmp_path / "model.pt")
    out = tmp_path / "predict"
    palette = get_dataset("figaro1k").palette_array
    assert predict_images(model, folder_images(images), out, Windows(64, 0.25, 4), palette, "cpu") is None
    assert sorted(p.name for p in out.iterdir()) == [
        "scene.tif",  # colours: its colour table (a raster may not fit in memory as PNG)
        "small.png",
        "small_color.png",
        "small_overlay.png",
    ]
    with rasterio.open(out / "scene.tif") as result:
        assert result.crs.to_epsg() == 32632 and result.transform == transform
        mask = result.read(1)
    assert mask.shape == (70, 90) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    assert np.asarray(Image.open(out / "small.png")).shape == (100, 77)
    colours = np.asarray(Image.open(out / "small_color.png"))
    np.testing.assert_array_equal(colours, palette[np.asarray(Image.open(out / "small.png"))])


def test_predict_scores_images_with_ground_truth(tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "image.npy", rng.integers(0, 256, (80, 60, 3), dtype=np.uint8))
    truth = rng.integers(0, 2, (80, 60)).astype(np.uint8)
    np.save(tmp_path / "label.npy", truth)
    model = _saved_model(tmp_path / "model.pt")
    item = PredictImage("s", str(tmp_path / "image.npy"), str(tmp_path / "label.npy"))
    palette = get_dataset("figaro1k").palette_array
    metrics = predict_images(model, [item], tmp_path / "out", Windows(64, 0.25, 4), palette, "cpu")
    predicted = np.asarray(Image.open(tmp_path / "out/s.png"))
    tp = np.sum((predicted == 1) & (truth == 1))
    expected = 2 * tp / (np.sum(predicted == 1) + np.sum(truth == 1))
    assert metrics["dice"] == pytest.approx(expected, abs=1e-6)
    assert json.loads((tmp_path / "out/metrics.json").read_text())["n_images"] == 1


def test_an_empty_or_missing_folder_is_refused(tmp_path):
    with pytest.raises(WeaksegError, match="holds no image"):
        folder_images(tmp_path)
    with pytest.raises(WeaksegError, match="is not a folder"):
        folder_images(tmp_path / "missing")


def test_two_images_of_one_name_are_refused_not_overwritten(tmp_path):
    rng = np.random.default_rng(2)
    for suffix in (".png", ".jpg"):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / f"scene{suffix}")
    with pytest.raises(WeaksegError, match=r"scene.jpg and scene.png, whose outputs would both be named scene.png"):
        folder_images(tmp_path)


@pytest.mark.parametrize(("mode", "bands", "kind"), [("RGBA", 4, "RGBA"), ("L", 1, "grayscale")])
def test_an_image_of_another_band_count_is_named_with_the_fix(tmp_path, mode, bands, kind):
    images = tmp_path / "images"
    images.mkdir()
    Image.new(mode, (64, 64)).save(images / "odd.png")
    model = _saved_model(tmp_path / "model.pt")
    palette = get_dataset("figaro1k").palette_array
    with pytest.raises(WeaksegError, match=rf"odd.png: {bands} band\(s\) \({kind}.*model reads 3; convert"):
        predict_images(model, folder_images(images), tmp_path / "out", Windows(64, 0.25, 4), palette, "cpu")
    assert not (tmp_path / "out").exists()


def test_an_image_over_pillows_bomb_limit_is_predicted(tmp_path, monkeypatch):
    """Pillow refuses images over 2 x MAX_IMAGE_PIXELS (178 Mpx); predict lifts the limit for its own input."""
    import weakseg.io.imageio as imageio

    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((96, 96, 3), dtype=np.uint8)).save(images / "large.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 96 x 96 = 9216 px > 2 x 1000: a "bomb"
    monkeypatch.setattr(imageio, "PILLOW_MAX_PIXELS", 1000)
    with pytest.raises(WeaksegError, match=r"large.png: .*decompression bomb.*the predict rule reads them"):
        imageio.read_image(images / "large.png", max_pixels=1000)
    model = _saved_model(tmp_path / "model.pt")
    palette = get_dataset("figaro1k").palette_array
    predict_images(model, folder_images(images), tmp_path / "out", Windows(64, 0.25, 4), palette, "cpu")
    assert Image.MAX_IMAGE_PIXELS == 1000  # the global limit is restored
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert np.asarray(Image.open(tmp_path / "out/large.png")).shape == (96, 96)


def test_a_model_of_another_class_count_is_named(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(images / "a.png")
    model = _saved_model(tmp_path / "model.pt")  # 2 classes (Figaro1k)
    palette = get_dataset("vaihingen").palette_array
    with pytest.raises(WeaksegError, match=r"model.pt: the model predicts 2 classes .* this dataset has 6"):
        predict_images(model, folder_images(images), tmp_path / "out", Windows(64, 0.25, 4), palette, "cpu")


def test_weights_of_another_architecture_are_named(tmp_path):
    from weakseg.learn.inference import load_model

    path = _saved_model(tmp_path / "model.pt")
    record = torch.load(path, weights_only=False)
    record["spec"]["arch"] = "Unet"  # a record whose weights are an FPN's
    torch.save(record, path)
    with pytest.raises(WeaksegError, match=r"model.pt: its weights do not fit .* Unet/resnet18 with 3 input bands"):
        load_model(path, torch.device("cpu"))


def test_predicting_the_scenes_of_a_tile_split_names_predict_input(tmp_path):
    from weakseg.formats.tiles import Tile
    from weakseg.learn.predict import scenes_of_set

    tiles = [Tile("a_0_0", "a", 0, 0, 1.0), Tile("a_0_64", "a", 0, 64, 1.0)]
    sets = {"strong": ["a_0_0"], "weak": [], "val": ["a_0_64"]}
    with pytest.raises(WeaksegError) as error:
        scenes_of_set(tiles, sets, "val", {})
    assert str(error.value).startswith("predict.input: val (whole scenes; or give predict.input a folder of images)")
    assert "evaluation.mode" not in str(error.value) and "split.group_by: scene" in str(error.value)
