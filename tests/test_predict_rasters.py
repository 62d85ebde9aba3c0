"""The predict stage on GeoTIFFs: windowed reads of tiled, compressed, 16-bit, 4-band rasters with nodata,
written as Cloud-Optimized GeoTIFFs with the input's CRS and transform, probabilities and polygons."""

import json

import numpy as np
import pytest
import rasterio
import tifffile
import torch
from rasterio.transform import from_origin
from test_predict import _saved_model

from weakseg.datasets import get_dataset
from weakseg.io.errors import WeaksegError
from weakseg.learn.inference import load_model
from weakseg.learn.predict import RasterOptions, Windows, folder_images, predict_images
from weakseg.learn.sliding_window import model_batches, predict_classes

TRANSFORM = from_origin(500000.0, 5400000.0, 0.5, 0.5)  # 0.5 m pixels: 0.25 m² each
HEIGHT, WIDTH = 560, 620  # over one 512-px block, so the COG has an overview


def _orthophoto(path, bands=4, dtype="uint16", crs="EPSG:32632", nodata=0, seed=0):
    """A tiled, deflate-compressed raster whose top-left corner is nodata; returns its (bands, H, W) pixels."""
    rng = np.random.default_rng(seed)
    high = 4000 if dtype == "uint16" else 200
    pixels = rng.integers(1, high, (bands, HEIGHT, WIDTH)).astype(dtype)
    pixels[:, 100:260, 40:300] += np.arange(bands, dtype=dtype)[:, None, None] * (high // 8)  # a region that differs
    pixels[:, :50, :70] = nodata
    profile = dict(driver="GTiff", height=HEIGHT, width=WIDTH, count=bands, dtype=dtype, crs=crs, nodata=nodata)
    profile.update(transform=TRANSFORM, tiled=True, blockxsize=128, blockysize=128, compress="deflate")
    with rasterio.open(path, "w", **profile) as raster:
        raster.write(pixels)
    return pixels


def _ring_area(ring):
    x, y = np.asarray(ring, dtype=np.float64).T
    return 0.5 * abs(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def test_a_tiled_uint16_geotiff_is_predicted_window_by_window_into_cogs(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    pixels = _orthophoto(images / "ortho.tif")
    model_path = _saved_model(tmp_path / "model.pt")
    palette = get_dataset("figaro1k").palette_array
    windows = Windows(128, 0.25, 4)
    options = RasterOptions(bands=(4, 1, 2), scale=(0, 4000), probabilities=True, vectors="geojson")
    assert predict_images(model_path, folder_images(images), tmp_path / "out", windows, palette, "cpu", options) is None
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["ortho.geojson", "ortho.tif", "ortho_probabilities.tif"]

    nodata = np.zeros((HEIGHT, WIDTH), dtype=bool)
    nodata[:50, :70] = True
    with rasterio.open(out / "ortho.tif") as result:
        assert result.crs == rasterio.crs.CRS.from_epsg(32632) and result.transform == TRANSFORM
        assert result.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and result.overviews(1) == [2]
        assert result.nodata == 255 and result.colormap(1)[1][:3] == tuple(palette[1])
        classes = result.read(1)
    assert (classes[nodata] == 255).all() and set(np.unique(classes[~nodata])) <= {0, 1}

    # the same prediction as the whole image in memory: bands selected, scaled, nodata set to the mean pixel
    model, _ = load_model(model_path, torch.device("cpu"))
    image = np.clip(np.round(pixels[[3, 0, 1]].astype(np.float32) * 255 / 4000), 0, 255).astype(np.uint8)
    image = image.transpose(1, 2, 0).copy()
    image[nodata] = np.round(model.mean_pixel).astype(np.uint8)
    expected = predict_classes(model_batches(model, torch.device("cpu")), image, 128, 0.25, 4, fill=model.mean_pixel)
    np.testing.assert_array_equal(classes[~nodata], expected[~nodata])
    assert 0 < np.mean(expected[~nodata]) < 1, "a one-class prediction would not test the polygons"

    with rasterio.open(out / "ortho_probabilities.tif") as shares:
        assert shares.crs == rasterio.crs.CRS.from_epsg(32632) and shares.transform == TRANSFORM
        assert shares.descriptions == ("background", "hair")
        probabilities = shares.read().astype(int)
    totals = probabilities.sum(axis=0)
    assert (totals[nodata] == 0).all() and (np.abs(totals[~nodata] - 255) <= 1).all()
    decided = np.abs(probabilities[1] - probabilities[0]) > 2
    np.testing.assert_array_equal(np.argmax(probabilities, axis=0)[decided], classes[decided])

    collection = json.loads((out / "ortho.geojson").read_text())
    assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32632"
    area = {0: 0.0, 1: 0.0}
    for feature in collection["features"]:
        rings = feature["geometry"]["coordinates"]
        area[feature["properties"]["class"]] += _ring_area(rings[0]) - sum(_ring_area(r) for r in rings[1:])
    for k in (0, 1):
        assert area[k] == pytest.approx(np.sum(classes == k) * 0.25, rel=1e-9)


def _expect_refusal(tmp_path, match, options=None):
    model_path = _saved_model(tmp_path / "model.pt")
    palette = get_dataset("figaro1k").palette_array
    images = folder_images(tmp_path / "images")
    with pytest.raises(WeaksegError, match=match):
        predict_images(model_path, images, tmp_path / "out", Windows(128, 0.25, 4), palette, "cpu", options)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_a_geotiff_with_fewer_bands_than_the_model_is_named(tmp_path):
    (tmp_path / "images").mkdir()
    _orthophoto(tmp_path / "images" / "two.tif", bands=2, dtype="uint8")
    _expect_refusal(tmp_path, r"two.tif: 2 band\(s\) read \(2 in the file\), but the model reads 3; set predict.bands")


def test_a_band_the_file_lacks_is_named(tmp_path):
    (tmp_path / "images").mkdir()
    _orthophoto(tmp_path / "images" / "ortho.tif")
    asked = RasterOptions(bands=(1, 2, 5))
    _expect_refusal(tmp_path, r"predict.bands \[1, 2, 5\] asks for band 5, but the file has 4", asked)


def test_16_bit_input_without_a_scale_names_predict_scale(tmp_path):
    (tmp_path / "images").mkdir()
    _orthophoto(tmp_path / "images" / "ortho.tif")
    _expect_refusal(tmp_path, r"ortho.tif: uint16 pixels.*set predict.scale", RasterOptions(bands=(1, 2, 3)))


def test_a_crs_gdal_cannot_resolve_is_refused(tmp_path):
    (tmp_path / "images").mkdir()
    geokeys = (1, 1, 0, 2, 1024, 0, 1, 1, 3072, 0, 1, 9999)  # projected, ProjectedCSTypeGeoKey = 9999: no such CRS
    tags = [(33550, "d", 3, (0.5, 0.5, 0.0), True), (33922, "d", 6, (0, 0, 0, 5e5, 5.4e6, 0), True)]
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    tags.append((34735, "H", 12, geokeys, True))
    tifffile.imwrite(tmp_path / "images" / "odd.tif", image, photometric="rgb", extratags=tags)
    _expect_refusal(tmp_path, r"odd.tif: georeferenced, but GDAL cannot resolve its CRS.*gdal_edit.py -a_srs")


def test_a_corrupt_block_is_named_and_nothing_is_written(tmp_path):
    (tmp_path / "images").mkdir()
    path = tmp_path / "images" / "ortho.tif"
    _orthophoto(path, dtype="uint8", bands=3)
    with tifffile.TiffFile(path) as tif:
        offset, length = tif.pages[0].dataoffsets[7], tif.pages[0].databytecounts[7]
    data = bytearray(path.read_bytes())
    data[offset : offset + length] = bytes(length)
    path.write_bytes(bytes(data))
    _expect_refusal(tmp_path, r"ortho.tif: cannot read rows \d+-\d+, columns \d+-\d+ .*damaged")


def test_a_scale_that_maps_nothing_is_refused_before_any_job():
    import yaml
    from conftest import REPO

    from weakseg.ops.config import check_config

    config = yaml.safe_load((REPO / "workflow_config.yaml").read_text())
    config["predict"]["scale"] = [4095, 4095]
    with pytest.raises(WeaksegError, match=r"config predict.scale: \[4095, 4095\] maps nothing: give \[low, high\]"):
        check_config(config)


def test_an_internal_mask_marks_nodata_as_gdal_reads_it(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    pixels = np.random.default_rng(3).integers(0, 256, (3, 200, 180), dtype=np.uint8)
    profile = dict(driver="GTiff", height=200, width=180, count=3, dtype="uint8", crs="EPSG:32632")
    profile.update(transform=TRANSFORM, tiled=True, blockxsize=128, blockysize=128)
    mask = np.full((200, 180), 255, dtype=np.uint8)
    mask[150:, 100:] = 0  # no data there, though its pixel values are ordinary
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(images / "masked.tif", "w", **profile) as raster:
        raster.write(pixels)
        raster.write_mask(mask)
    model_path = _saved_model(tmp_path / "model.pt")
    palette = get_dataset("figaro1k").palette_array
    predict_images(model_path, folder_images(images), tmp_path / "out", Windows(128, 0.25, 4), palette, "cpu")
    with rasterio.open(tmp_path / "out/masked.tif") as result:
        classes = result.read(1)
    assert (classes[150:, 100:] == 255).all() and (classes[:150] != 255).all() and (classes[:, :100] != 255).all()
