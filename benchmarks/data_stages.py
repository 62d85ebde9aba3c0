"""Benchmark the data stages at full-dataset scale: wall time, peak RSS, and the ratio to reading the data.

Generates a synthetic dataset of the size of all of ISPRS Vaihingen (33 areas of 2000 x 2560 px,
about 170 Mpx) or Potsdam (38 tiles of 6000 x 6000 px, about 1.4 Gpx) in the official archive
layout (the adapters' own archive and member names; scenes from
:func:`weakseg.datasets.synthetic_scene.generate_scene`, a few distinct ones repeated so that
generating stays quick), then runs download -> prepare -> tile -> split -> weak_labels ->
augment -> stats with Snakemake on the dataset's config (``configs/<dataset>.yaml``). Each
stage's wall time comes from Snakemake's own benchmark files (``results/benchmarks/``); peak RSS
from sampling every process of the run every 0.05 s (:class:`ProcessPeaks`; the benchmark
files sample every 0.5 s and miss short jobs, and the kernel's ``ru_maxrss`` of a child counts
the memory of its parent at fork). The baseline is reading the archives' bytes once, the least
any pipeline must do; the files are evicted from the page cache first (``posix_fadvise``),
which a virtual machine's host cache may still serve. Not a test: it prints figures, e.g.

    python benchmarks/data_stages.py --dataset vaihingen
    python benchmarks/data_stages.py --dataset potsdam --workdir /big/disk/bench
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: scene size (height, width) in pixels per dataset: Vaihingen's areas average about 5.1 Mpx.
SCENE_SIZE = {"vaihingen": (2000, 2560), "potsdam": (6000, 6000)}
#: Distinct generated scenes, repeated under the official names.
DISTINCT = 3
#: The data stages' outputs (split seed 0, the first weak kind).
TARGETS = (
    "results/stats/seed-0/stats.json",
    "results/augment/seed-0/strong.yaml",
    "results/weak_labels/seed-0/proportions/weak_labels.csv",
)
STAGES = ("download", "prepare", "tile", "split", "weak_labels", "augment", "stats")


def _tiff(array) -> bytes:
    import tifffile

    buffer = BytesIO()
    tifffile.imwrite(buffer, array, photometric="rgb")
    return buffer.getvalue()


def write_archives(dataset: str, folder: Path) -> int:
    """The dataset's image and complete-label archives in ``folder``; returns their size in bytes."""
    import numpy as np

    from weakseg.datasets import get_dataset
    from weakseg.datasets.synthetic_scene import generate_scene

    adapter = get_dataset(dataset)
    scenes = [*adapter.official_train_scenes, *adapter.official_test_scenes]
    height, width = SCENE_SIZE[dataset]
    palette = adapter.palette_array
    generated = [generate_scene(seed, height, width) for seed in range(DISTINCT)]
    image_archive, image_pattern = next(iter(adapter.image_archives.values()))
    label_archive, label_pattern = adapter.label_archives["complete"]
    members = {
        "vaihingen": (lambda s: f"top/top_mosaic_09cm_{s}.tif", lambda s: f"top_mosaic_09cm_{s}.tif"),
        "potsdam": (lambda s: f"3_Ortho_IRRG/top_potsdam_{s}_IRRG.tif", lambda s: f"top_potsdam_{s}_label.tif"),
    }[dataset]
    with (
        zipfile.ZipFile(folder / image_archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as images,
        zipfile.ZipFile(folder / label_archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as labels,
    ):
        for i, scene in enumerate(scenes):
            image, label = generated[i % DISTINCT]
            images.writestr(members[0](scene), _tiff(image))
            labels.writestr(members[1](scene), _tiff(np.ascontiguousarray(palette[label])))
    return sum((folder / name).stat().st_size for name in (image_archive, label_archive))


def evict(paths: list[Path]) -> None:
    """Drop ``paths`` from the page cache (written back first), so the next read comes from disk."""
    os.sync()
    for path in paths:
        with open(path, "rb") as handle:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def read_seconds(paths: list[Path]) -> float:
    """Seconds to read ``paths`` once from disk (evicted from the page cache first), 16 MiB at a time."""
    evict(paths)
    started = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass
    return time.perf_counter() - started


def stage_figures(workdir: Path) -> dict[str, dict]:
    """Per stage: summed wall seconds, the most peak RSS of its jobs (MB, as Snakemake sampled it), the job count."""
    figures = {}
    for stage in STAGES:
        files = sorted((workdir / "results/benchmarks" / stage).rglob("*.tsv"))
        rows = []
        for path in files:
            with open(path, newline="") as handle:
                rows += list(csv.DictReader(handle, delimiter="\t"))
        if rows:
            figures[stage] = {
                "seconds": sum(float(r["s"]) for r in rows),
                "max_rss_mb": max(float(r["max_rss"]) for r in rows if r["max_rss"] not in ("", "NA")),
                "jobs": len(rows),
            }
    return figures


class ProcessPeaks:
    """The peak RSS (MiB) of every process below ``root``, sampled every ``interval`` seconds, by stage.

    A job is attributed to a stage by its command line (``scripts/<stage>.py``); other processes
    (Snakemake itself, shells) go under ``snakemake``. Snakemake's benchmark files sample every
    0.5 s, which can miss the whole life of a short job; this samples every 0.05 s.
    """

    def __init__(self, root: int, interval: float = 0.05):
        import threading

        self.root, self.interval, self.peaks = root, interval, {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _stage(self, process) -> str:
        command = " ".join(process.cmdline())
        return next((stage for stage in STAGES if f"scripts/{stage}.py" in command), "snakemake")

    def _run(self) -> None:
        import psutil

        root = psutil.Process(self.root)
        while not self._done.is_set():
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for process in processes:
                try:
                    stage, rss = self._stage(process), process.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.peaks[stage] = max(self.peaks.get(stage, 0.0), rss)
            time.sleep(self.interval)

    def stop(self) -> dict[str, float]:
        """Stop sampling; the peaks."""
        self._done.set()
        self._thread.join()
        return self.peaks


def main() -> None:
    """Generate, run and print one line per stage and a summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(SCENE_SIZE), default="vaihingen")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="where to generate and run (default: a temporary folder here)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"bench-{args.dataset}-", dir=Path.cwd()))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        archives = workdir / "archives"
        archives.mkdir(exist_ok=True)
        started = time.perf_counter()
        size = write_archives(args.dataset, archives)
        generated = time.perf_counter() - started
        for path in (*REPO.glob("*.yaml"), REPO / "Snakefile"):
            shutil.copy(path, workdir / path.name)
        for folder in ("rules", "schemas", "scripts", "weakseg", "envs", "report", "configs", "profiles"):
            shutil.copytree(REPO / folder, workdir / folder, dirs_exist_ok=True)
        overlay = workdir / "bench.yaml"
        md5 = "\n".join(f"      {p.name}: skip" for p in archives.iterdir())
        overlay.write_text(
            # the IRRG archive (Potsdam's config reads RGBIR); the complete labels only
            f"dataset:\n  source:\n    folder: {archives}\n    md5:\n{md5}\n  bands: IRRG\n  scoring_labels: null\n"
            "model:\n  encoder_weights: null\n"
        )
        raw_read = read_seconds(sorted(archives.iterdir()))
        evict(sorted(archives.iterdir()))
        command = [sys.executable, "-m", "snakemake", *TARGETS, "--cores", str(args.cores)]
        command += ["--configfile", f"configs/{args.dataset}.yaml", overlay.name]
        started = time.perf_counter()
        # the rules run "python scripts/...": this interpreter's environment first on PATH
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        process = subprocess.Popen(
            command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        sampler = ProcessPeaks(process.pid)
        _, stderr = process.communicate()
        wall = time.perf_counter() - started
        sampled = sampler.stop()
        if process.returncode != 0:
            sys.exit(f"snakemake failed:\n{stderr[-4000:]}")
        figures = stage_figures(workdir)
        height, width = SCENE_SIZE[args.dataset]
        tiles = sum(1 for _ in open(workdir / f"data/{args.dataset}/tiles/tiles.csv")) - 1
        n_scenes = figures["prepare"]["jobs"]
        megapixels = n_scenes * height * width / 1e6
        print(
            f"{args.dataset} scale: {n_scenes} scenes of {height} x {width} px = {megapixels:.0f} Mpx, "
            f"{tiles} tiles; archives {size / 2**30:.2f} GiB (generated in {generated:.0f} s); --cores {args.cores}"
        )
        for stage, figure in figures.items():
            print(
                f"  {stage:12s} {figure['seconds']:7.1f} s over {figure['jobs']:3d} job(s), "
                f"peak RSS {sampled.get(stage, 0):6.0f} MiB (Snakemake's benchmark file: {figure['max_rss_mb']:.0f} MB)"
            )
        print(f"  {'snakemake':12s} itself and its shells: peak RSS {sampled.get('snakemake', 0):.0f} MiB")
        peak = max(sampled.values())
        print(
            f"  all stages: {wall:.1f} s wall (Snakemake included), peak RSS of any process {peak:.0f} MiB; "
            f"reading the archives once: {raw_read:.1f} s, so {wall / raw_read:.1f} x the raw read"
        )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
