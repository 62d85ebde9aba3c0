"""Benchmark predict on large synthetic GeoTIFFs: megapixels per second and peak memory per scene size.

Each size gets a generated orthophoto (tiled 512 px, deflate-compressed, uint16, 4 bands, a
nodata corner, UTM CRS; written block by block in a process of its own, deleted afterwards)
predicted by the predict stage's own raster path (:func:`weakseg.learn.predict.predict_raster`:
windowed reads, band selection and scaling to 8 bits, Gaussian blending, class and probability
COGs with overviews) in a fresh process, so that peaks do not mix. "peak RSS" is the most
resident memory while predicting (model, window batch, strip accumulator, GDAL's block cache),
which must not grow with the scene; throughput is pixels over the wall time of predicting and
writing (not generating).

``--model fpn`` is the FPN / ResNet-18 of the demo; on a CPU it runs about 0.3 MP/s, so a
50000² scene would take hours. ``--model linear`` (one 1 x 1 convolution) leaves the model out,
so the figures are those of the stage itself: reading, blending, writing. E.g.

    python benchmarks/predict.py --sizes 6000 20000 50000 --model linear
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLASSES = tuple(f"class{k}" for k in range(6))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def make_orthophoto(path: Path, size: int, bands: int = 4) -> None:
    """A size x size uint16 GeoTIFF written one 512 x 8192 px block at a time (memory: one block).

    The pixels are ramps and a checkerboard of regions plus 6 bits of noise, so that deflate
    compresses them about as much as a real orthophoto (about 1.5:1) instead of to nothing;
    the top-left 1000² px are nodata.
    """
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    profile = dict(driver="GTiff", height=size, width=size, count=bands, dtype="uint16", nodata=0)
    profile.update(crs="EPSG:32632", transform=from_origin(500000.0, 5400000.0, 0.1, 0.1))
    profile.update(tiled=True, blockxsize=512, blockysize=512, compress="deflate", BIGTIFF="YES")
    profile.update(ZLEVEL=1, NUM_THREADS="ALL_CPUS")
    rng = np.random.default_rng(0)
    with rasterio.Env(GDAL_CACHEMAX=256), rasterio.open(path, "w", **profile) as raster:
        for y0 in range(0, size, 512):
            for x0 in range(0, size, 8192):
                y = np.arange(y0, min(y0 + 512, size), dtype=np.int32)[:, None]
                x = np.arange(x0, min(x0 + 8192, size), dtype=np.int32)[None, :]
                regions = ((y // 700) + (x // 900)) % 3
                block = np.stack([(x * (b + 1) + y * 3 + regions * 800) % 3000 + 100 for b in range(bands)])
                block = (block + rng.integers(0, 64, block.shape, dtype=np.int32)).astype(np.uint16)
                block[:, max(0, 0 - y0) : max(0, 1000 - y0), max(0, 0 - x0) : max(0, 1000 - x0)] = 0
                raster.write(block, window=Window(x0, y0, block.shape[2], block.shape[1]))


def _predict_batch(model_name: str, device):
    """``predict_batch`` of the FPN (3 bands) or of one 1 x 1 convolution."""
    import torch

    from weakseg.formats.model_record import ModelSpec
    from weakseg.learn.models import build_model
    from weakseg.learn.sliding_window import model_batches

    torch.manual_seed(0)
    if model_name == "fpn":
        spec = ModelSpec("FPN", "resnet18", 3, CLASSES)
        model = build_model(spec).to(device)
        return model_batches(model, device), model.mean_pixel, spec
    spec = ModelSpec("linear", "none", 3, CLASSES)
    layer = torch.nn.Conv2d(3, len(CLASSES), 1).to(device).eval()

    @torch.no_grad()
    def predict_batch(batch):
        return layer(torch.from_numpy(batch).to(device) / 255).cpu().numpy()

    return predict_batch, [128.0, 128.0, 128.0], spec


def measure(image: Path, model_name: str, window: int, overlap: float, batch_size: int, device_name: str, threads: int):
    """Predict one generated scene; returns seconds, MP/s, peak RSS (MiB) and file sizes (MiB).

    ``peak_rss_mib`` is the most resident memory sampled (every 20 ms) while predicting and
    writing; ``hwm_mib`` the process's high-water mark, imports included.
    """
    import threading

    import numpy as np
    import rasterio
    import torch

    from weakseg.datasets import get_dataset
    from weakseg.learn.inference import resolve_device
    from weakseg.learn.predict import PredictImage, RasterOptions, Windows, predict_raster

    torch.set_num_threads(threads)
    device = resolve_device(device_name)
    predict_batch, fill, spec = _predict_batch(model_name, device)
    with rasterio.open(image) as raster:
        size = raster.width * raster.height
    out = image.parent / "out"
    out.mkdir()
    peak, done = {"rss": 0}, threading.Event()

    def sample():
        while not done.is_set():
            peak["rss"] = max(peak["rss"], _status_kib("VmRSS"))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    predict_raster(
        predict_batch,
        PredictImage("ortho", str(image)),
        Windows(window, overlap, batch_size),
        RasterOptions(bands=(4, 1, 2), scale=(0, 4095), probabilities=True),
        get_dataset("vaihingen").palette_array,
        out,
        np.asarray(fill),
        spec,
    )
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {
        "device": str(device),
        "seconds": seconds,
        "megapixels_per_second": size / 1e6 / seconds,
        "peak_rss_mib": peak["rss"] / 1024,
        "hwm_mib": _status_kib("VmHWM") / 1024,
        "file_mib": {p.name: p.stat().st_size / 2**20 for p in [image, *out.iterdir()]},  # input.tif, ortho*.tif
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
    }


def _child(*arguments: str) -> str:
    return subprocess.run([sys.executable, __file__, *arguments], check=True, capture_output=True, text=True).stdout


def main() -> None:
    """Parse the command line and print one line per scene size (and a JSON line with --json)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[6000, 20000], help="scene sides, pixels")
    parser.add_argument("--model", choices=["fpn", "linear"], default="linear")
    parser.add_argument("--window", type=int, default=512, help="pixels")
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        make_orthophoto(Path(args.make[1]), int(args.make[0]))
        return
    if args.one:
        settings = (args.model, args.window, args.overlap, args.batch_size, args.device, args.threads)
        print(json.dumps(measure(Path(args.one), *settings)))
        return
    print(f"{args.model}, window {args.window} px, overlap {args.overlap}, batch {args.batch_size}")
    first = None
    for size in args.sizes:
        # generated in a process of its own, so that its memory does not count
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
            image = Path(folder) / "input.tif"
            started = time.perf_counter()
            _child("--make", str(size), str(image))
            generated = time.perf_counter() - started
            result = json.loads(_child("--one", str(image), *sys.argv[1:]))
        first = first or result
        ratio = result["megapixels_per_second"] / first["megapixels_per_second"]
        print(
            f"{size} x {size} px on {result['device']}: {result['seconds']:.1f} s, "
            f"{result['megapixels_per_second']:.2f} MP/s ({ratio:.2f} x the first size), "
            f"peak RSS {result['peak_rss_mib']:.0f} MiB while predicting "
            f"(high-water mark {result['hwm_mib']:.0f} MiB); "
            f"input {result['file_mib']['input.tif']:.0f} MiB (generated in {generated:.0f} s), "
            f"classes {result['file_mib']['ortho.tif']:.1f} MiB, probabilities "
            f"{result['file_mib']['ortho_probabilities.tif']:.0f} MiB"
            + (f", GPU peak {result['gpu_peak_mib']:.0f} MiB" if result["gpu_peak_mib"] is not None else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
