"""Benchmark sliding-window prediction of large synthetic scenes: megapixels per second and peak memory.

Each size runs in a fresh process (so peaks do not mix). The scene is a memory-mapped .npy
and the class map a memory-mapped output, as ``predict`` reads and writes large scenes;
"anonymous peak" is the most process-private memory (``RssAnon`` of /proc/self/status,
sampled every 20 ms: model, window batch, accumulator), which must not grow with the
scene; "total peak" (``VmHWM``) also counts file pages of the mapped scene. Not a test: it
prints figures, e.g.

    python benchmarks/predict.py --sizes 3000 6000 --window 512
"""

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(size: int, window: int, overlap: float, batch_size: int, device_name: str, threads: int) -> dict:
    """Predict one size x size scene; returns seconds, megapixels per second and peaks (MiB)."""
    import numpy as np
    import torch

    from weakseg.formats.model_record import ModelSpec
    from weakseg.learn.inference import resolve_device
    from weakseg.learn.models import build_model
    from weakseg.learn.sliding_window import model_batches, predict_classes

    torch.set_num_threads(threads)
    device = resolve_device(device_name)
    model = build_model(ModelSpec("FPN", "resnet18", 3, tuple(f"class{k}" for k in range(6)))).to(device)
    peak = {"anon": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["anon"] = max(peak["anon"], _status_kib("RssAnon"))
            time.sleep(0.02)

    with tempfile.TemporaryDirectory() as folder:
        scene = np.lib.format.open_memmap(Path(folder) / "scene.npy", "w+", np.uint8, (size, size, 3))
        for y in range(0, size, 1000):  # written in bands so that making the scene stays small too
            scene[y : y + 1000] = np.random.default_rng(y).integers(0, 256, (min(1000, size - y), size, 3), np.uint8)
        scene.flush()
        del scene
        scene = np.load(Path(folder) / "scene.npy", mmap_mode="r")
        out = np.lib.format.open_memmap(Path(folder) / "classes.npy", "w+", np.uint8, (size, size))
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        predict_classes(model_batches(model, device), scene, window, overlap, batch_size, out=out)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    return {
        "size": size,
        "device": str(device),
        "seconds": seconds,
        "megapixels_per_second": size * size / 1e6 / seconds,
        "anonymous_peak_mib": peak["anon"] / 1024,
        "total_peak_mib": _status_kib("VmHWM") / 1024,
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
    }


def main() -> None:
    """Parse the command line and print one line per scene size."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 6000], help="scene sides, pixels")
    parser.add_argument("--window", type=int, default=512, help="pixels")
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.window, args.overlap, args.batch_size, args.device, args.threads)))
        return
    print(f"FPN-resnet18, window {args.window} px, overlap {args.overlap}, batch {args.batch_size}")
    for size in args.sizes:
        command = [sys.executable, __file__, "--one", str(size), *sys.argv[1:]]
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        print(
            f"{size} x {size} px on {result['device']}: {result['seconds']:.1f} s, "
            f"{result['megapixels_per_second']:.2f} MP/s, anonymous peak {result['anonymous_peak_mib']:.0f} MiB, "
            f"total peak {result['total_peak_mib']:.0f} MiB"
            + (f", GPU peak {result['gpu_peak_mib']:.0f} MiB" if result["gpu_peak_mib"] is not None else "")
        )


if __name__ == "__main__":
    main()
