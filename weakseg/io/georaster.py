"""Georeferenced rasters of any size, read and written window by window with rasterio (GDAL).

Reading: :class:`RasterReader` shows a (GeoTIFF or any GDAL raster) file as an (H, W, C) uint8
array to the sliding window (:mod:`weakseg.learn.sliding_window`): every slice is one windowed
read of the selected bands, scaled to 8 bits as the model was trained, so the scene is never
in memory. Writing: :class:`CogWriter` writes tiled blocks to a GTiff and converts it to a
Cloud-Optimized GeoTIFF with overviews (GDAL's COG driver), keeping the input's CRS and
transform. :func:`write_polygons` vectorises a class raster block by block into GeoJSON.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.features
import rasterio.shutil
import rasterio.transform
import rasterio.windows
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from weakseg.io.errors import WeaksegError

#: GDAL's block cache while predicting (MiB): the blocks of one window strip fit many times.
GDAL_CACHE_MIB = 256
#: Side of the internal tiles of the outputs (pixels), GDAL's COG default.
BLOCK = 512


def gdal_env() -> rasterio.Env:
    """A rasterio environment with a bounded block cache, so memory does not grow with the scene."""
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MIB)


def _scale(values: np.ndarray, scale: tuple[float, float] | None, path) -> np.ndarray:
    if scale is None:
        if values.dtype != np.uint8:
            raise WeaksegError(
                f"{path}: {values.dtype} pixels, but the model was trained on 8-bit images; set predict.scale "
                "[low, high] (input values mapped linearly to 0-255, e.g. [0, 4095] for 12-bit data)"
            )
        return values
    low, high = scale
    scaled = (values.astype(np.float32) - low) * (255.0 / (high - low))
    # NaN pixels are nodata (RasterReader fills them); 0 here only keeps the cast defined
    return np.clip(np.round(np.nan_to_num(scaled, nan=0.0)), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class RasterInfo:
    """What the outputs carry over from an input raster: size (pixels), CRS and affine transform.

    A raster georeferenced by ground control points instead of a geotransform carries them in
    ``gcps`` (rasterio ``GroundControlPoint`` records), in the CRS ``crs``, and ``transform`` is
    the identity.
    """

    height: int
    width: int
    crs: object | None
    transform: object
    gcps: tuple = ()

    @property
    def megapixels(self) -> float:
        """The pixel count in millions: height x width / 10^6."""
        return self.height * self.width / 1e6


class RasterReader:
    """An open raster seen as an (H, W, C) uint8 array, read window by window.

    ``reader[rows, cols]`` (two slices) returns the (h, w, C) uint8 pixels of the selected
    bands, scaled with ``scale`` and with nodata pixels replaced by ``fill``, so the model sees
    its mean pixel there. Nodata: where all selected bands hold their nodata value, or, for
    files with an internal mask or alpha band, where GDAL's dataset mask is 0. :meth:`valid`
    gives the mask itself.

    Args:
        path: the raster file.
        bands: 1-based band indices to read, in the model's band order (None: every band).
        scale: (low, high) input values mapped linearly to 0 and 255 (clipped); None for
            8-bit input, which is read as it is.
        fill: (C,) uint8 pixel put where the input is nodata (None: left as read).
        model_bands: bands the model reads, checked against the selection.

    Raises:
        WeaksegError: the file cannot be opened, a band index is out of range, the band count
            differs from ``model_bands``, the raster is georeferenced in a CRS that GDAL cannot
            resolve, or (from a read) a block cannot be decoded; each names the file.
    """

    def __init__(self, path, bands=None, scale=None, fill=None, model_bands: int | None = None):
        self.path = Path(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._src = rasterio.open(self.path)
        except RasterioError as error:
            raise WeaksegError(f"{self.path}: cannot open as a raster ({error})") from None
        src = self._src
        self.bands = list(bands) if bands else list(range(1, src.count + 1))
        bad = [b for b in self.bands if not 1 <= b <= src.count]
        if bad:
            self.close()
            raise WeaksegError(
                f"{self.path}: predict.bands {self.bands} asks for band {bad[0]}, but the file has {src.count} band(s)"
            )
        if model_bands is not None and len(self.bands) != model_bands:
            self.close()
            raise WeaksegError(
                f"{self.path}: {len(self.bands)} band(s) read ({src.count} in the file), but the model reads "
                f"{model_bands}; set predict.bands to the {model_bands} 1-based band indices in the order the "
                "model was trained on (e.g. [4, 1, 2] for near-infrared, red, green of an RGBI file)"
            )
        gcps, gcp_crs = src.gcps if src.transform.is_identity else ([], None)
        crs = src.crs if src.crs is not None else gcp_crs
        georeferenced = not src.transform.is_identity or crs is not None or bool(gcps)
        if georeferenced and (crs is None or not (crs.is_projected or crs.is_geographic)):
            self.close()
            raise WeaksegError(
                f"{self.path}: georeferenced, but GDAL cannot resolve its CRS ({crs or 'none given'}); "
                "set a known one, e.g. gdal_edit.py -a_srs EPSG:<code> FILE"
            )
        self.scale = tuple(scale) if scale is not None else None
        self.fill = None if fill is None else np.clip(np.round(np.asarray(fill, dtype=float)), 0, 255).astype(np.uint8)
        self.shape = (src.height, src.width, len(self.bands))
        self.info = RasterInfo(src.height, src.width, crs, src.transform, tuple(gcps))
        flags = [{flag.name for flag in src.mask_flag_enums[b - 1]} for b in self.bands]
        # NaN is no pixel value: float rasters are nodata where a selected band is NaN, declared or not
        self._float = any(np.issubdtype(np.dtype(src.dtypes[b - 1]), np.floating) for b in self.bands)
        self._all_valid = all(f == {"all_valid"} for f in flags) and not self._float
        nodata = [src.nodatavals[b - 1] for b in self.bands]
        only_nodata = all(f == {"nodata"} for f in flags) and None not in nodata
        self._nodata = np.array(nodata, dtype=src.dtypes[0]) if only_nodata else None
        self._masked = not self._all_valid and not only_nodata and not all(f == {"all_valid"} for f in flags)
        self._last = None  # (window, validity) of the last read: see valid()

    def _read(self, method, rows: slice, cols: slice, **kwargs) -> np.ndarray:
        window = _window_of(rows, cols, self.shape)
        try:
            return method(window=window, **kwargs)
        except RasterioError as error:
            raise WeaksegError(
                f"{self.path}: cannot read rows {window.row_off}-{window.row_off + window.height}, columns "
                f"{window.col_off}-{window.col_off + window.width} ({error}); the file is damaged: "
                "check it with gdalinfo -checksum and recreate it"
            ) from None

    def valid(self, rows: slice, cols: slice) -> np.ndarray:
        """(h, w) bool: where the input has data (see :meth:`_valid_of`).

        A window inside the last one read (the sliding window's output blocks lie inside the
        band it read) is cut from that read's mask instead of read again.
        """
        window = _window_of(rows, cols, self.shape)
        if self._all_valid:
            return np.ones((window.height, window.width), dtype=bool)
        if self._last is not None:
            last, mask = self._last
            y, x = window.row_off - last.row_off, window.col_off - last.col_off
            if 0 <= y and 0 <= x and y + window.height <= last.height and x + window.width <= last.width:
                return mask[y : y + window.height, x : x + window.width]
        return self._valid_of(rows, cols)

    def _valid_of(self, rows: slice, cols: slice, pixels: np.ndarray | None = None) -> np.ndarray:
        """(h, w) bool validity at ``rows``, ``cols`` of a file that may have nodata pixels.

        Where every selected band declares only a nodata value (the common case), a pixel is
        nodata when all its selected bands hold it (a NaN nodata value included), computed from
        the (bands, h, w) raw ``pixels`` when already read; otherwise (internal mask, alpha
        band) GDAL's dataset mask is read. In a float raster a NaN in any selected band is
        nodata too.
        """
        if self._masked:
            valid = self._read(self._src.dataset_mask, rows, cols) > 0
            if not self._float:
                return valid
        else:
            valid = None
        if pixels is None:
            pixels = self._read(self._src.read, rows, cols, indexes=self.bands)
        if valid is None:
            valid = np.ones(pixels.shape[1:], dtype=bool)
        if self._nodata is not None:
            nodata = self._nodata[:, None, None]
            held = pixels == nodata
            if self._float:
                held |= np.isnan(pixels) & np.isnan(nodata)
            valid &= ~np.all(held, axis=0)
        if self._float:
            valid &= ~np.isnan(pixels).any(axis=0)
        return valid

    def __getitem__(self, key) -> np.ndarray:
        rows, cols = key
        raw = self._read(self._src.read, rows, cols, indexes=self.bands)
        pixels = _scale(raw, self.scale, self.path).transpose(1, 2, 0)
        if not self._all_valid:
            valid = self._valid_of(rows, cols, raw)
            self._last = (_window_of(rows, cols, self.shape), valid)
            if self.fill is not None:
                pixels = pixels.copy()
                pixels[~valid] = self.fill
        return pixels

    def close(self) -> None:
        """Close the file."""
        self._src.close()

    def __enter__(self) -> RasterReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _window_of(rows: slice, cols: slice, shape) -> Window:
    """The rasterio window of two slices, clipped to the raster as numpy clips them."""
    y0, y1, _ = rows.indices(shape[0])
    x0, x1, _ = cols.indices(shape[1])
    return Window(x0, y0, max(x1 - x0, 0), max(y1 - y0, 0))


class CogWriter:
    """A Cloud-Optimized GeoTIFF written block by block: the input's CRS and transform, overviews.

    Blocks go to a tiled, compressed GTiff next to ``path``; :meth:`finish` copies it with
    GDAL's COG driver (which builds the overviews with ``resampling``) and removes it.

    Args:
        path: the COG to write.
        info: size, CRS and transform (from :attr:`RasterReader.info`).
        count: bands; dtype: numpy dtype name.
        nodata: the nodata value declared in the file (None: none).
        colormap: {value: (r, g, b)} colour table of a single-band uint8 raster (None: none).
        resampling: GDAL resampling of the overviews (``nearest`` for classes, ``average``
            for probabilities).
        band_names: a description per band (e.g. class names).
    """

    def __init__(
        self,
        path,
        info: RasterInfo,
        count: int,
        dtype: str = "uint8",
        nodata=None,
        colormap=None,
        resampling="nearest",
        band_names=(),
    ):
        self.path = Path(path)
        self.resampling = resampling
        self._scratch = self.path.with_name(f".{self.path.name}.blocks.tif")
        # a raster georeferenced by ground control points keeps them (and their CRS), not a transform
        if info.gcps:
            georeferencing = {"gcps": list(info.gcps), "crs": info.crs}
        else:
            georeferencing = {"crs": info.crs, "transform": info.transform}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            self._dst = rasterio.open(
                self._scratch,
                "w",
                driver="GTiff",
                height=info.height,
                width=info.width,
                count=count,
                dtype=dtype,
                **georeferencing,
                nodata=nodata,
                tiled=True,
                blockxsize=BLOCK,
                blockysize=BLOCK,
                # scratch, read once by the COG copy: the fastest codec that keeps it small
                compress="zstd",
                ZSTD_LEVEL=1,
                BIGTIFF="IF_SAFER",
            )
        if colormap:
            self._dst.write_colormap(1, colormap)
        for band, name in enumerate(band_names, start=1):
            self._dst.set_band_description(band, name)

    def write(self, rows: slice, cols: slice, values: np.ndarray) -> None:
        """Write (count, h, w) or (h, w) ``values`` at ``rows``, ``cols`` of the raster."""
        values = values if values.ndim == 3 else values[None]
        window = Window(cols.start, rows.start, values.shape[2], values.shape[1])
        self._dst.write(values, window=window)

    def finish(self) -> None:
        """Close the blocks and write the COG (with overviews) in their place."""
        self._dst.close()
        try:
            rasterio.shutil.copy(
                self._scratch,
                self.path,
                driver="COG",
                COMPRESS="DEFLATE",
                BLOCKSIZE=BLOCK,
                OVERVIEWS="AUTO",
                RESAMPLING=self.resampling.upper(),
                BIGTIFF="IF_SAFER",
            )
        finally:
            self._scratch.unlink(missing_ok=True)

    def abort(self) -> None:
        """Close and remove the blocks (the COG is not written)."""
        with contextlib.suppress(RasterioError):
            self._dst.close()
        self._scratch.unlink(missing_ok=True)


def _crs_member(crs) -> dict | None:
    """The GeoJSON 2008 ``crs`` member GDAL/QGIS read for a projected CRS (RFC 7946 drops it)."""
    if crs is None:
        return None
    epsg = crs.to_epsg()
    name = f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else crs.to_wkt()
    return {"type": "name", "properties": {"name": name}}


def polygon_features(
    class_raster, class_names: list[str], nodata: int, block: int = 4096
) -> Iterator[tuple[int, dict]]:
    """(class index, GeoJSON geometry) of each class region of a class raster, block by block.

    Coordinates are in the raster's CRS: through its geotransform, or for a raster georeferenced
    by ground control points through their least-squares affine fit (rasterio ``from_gcps``).

    Regions are 4-connected pixels of one class (rasterio.features.shapes); a region that
    crosses a block border (``block`` px) is cut there, so memory stays one block whatever the
    raster's size and the polygons' areas still sum to the class pixels x pixel area.
    """
    with rasterio.open(class_raster) as src:
        gcps, _ = src.gcps
        # a raster georeferenced by ground control points: their least-squares affine fit (exact for affine GCPs)
        base = rasterio.transform.from_gcps(gcps) if src.transform.is_identity and gcps else src.transform
        for y in range(0, src.height, block):
            for x in range(0, src.width, block):
                window = Window(x, y, min(block, src.width - x), min(block, src.height - y))
                classes = src.read(1, window=window)
                shapes = rasterio.features.shapes(
                    classes, mask=classes != nodata, transform=rasterio.windows.transform(window, base)
                )
                for geometry, value in shapes:
                    if int(value) < len(class_names):
                        yield int(value), geometry


def write_polygons(class_raster, path, class_names: list[str], nodata: int, block: int = 4096) -> int:
    """Write the class regions of ``class_raster`` as a GeoJSON FeatureCollection; returns their count.

    Each feature has properties ``class`` (index) and ``class_name``; coordinates are in the
    raster's CRS, named by a ``crs`` member (GeoJSON 2008, read by GDAL) since RFC 7946
    allows WGS 84 only. Features are streamed to the file: memory is one block.
    """
    with rasterio.open(class_raster) as src:
        crs = src.crs if src.crs is not None else src.gcps[1]
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write('{"type": "FeatureCollection",')
        member = _crs_member(crs)
        if member:
            handle.write(f' "crs": {json.dumps(member)},')
        handle.write(' "features": [\n')
        for value, geometry in polygon_features(class_raster, class_names, nodata, block):
            feature = {
                "type": "Feature",
                "properties": {"class": value, "class_name": class_names[value]},
                "geometry": geometry,
            }
            handle.write((",\n" if count else "") + json.dumps(feature))
            count += 1
        handle.write("\n]}\n")
    return count
