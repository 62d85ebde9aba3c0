"""Shared fixtures and helpers for the data-stage tests.

Real sample data (ISPRS Vaihingen area 4) lives outside the repository in
``../shared/data`` (see its README.md); tests that need it skip when it is absent, and
copy it only into ``tmp_path``, never into the repository.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from weakseg.formats.bundles import OfflineCopies, Pipelines, RunFiles, TileFiles, TrainingFiles

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
VAIHINGEN_DIR = SHARED_DATA / "vaihingen"
VAIHINGEN_IMAGES = "ISPRS_semantic_labeling_Vaihingen.zip"
VAIHINGEN_LABELS = "ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip"
#: MD5s of the *sample* archives (not the official full-dataset sums).
VAIHINGEN_SAMPLE_MD5 = {
    VAIHINGEN_IMAGES: "d0fe9b5f590f76e192cd085dc16541cb",
    VAIHINGEN_LABELS: "ed2cd2c9e8dfef12e6e46dba882f1a92",
}
#: The ISPRS colour code, written out from the benchmark description (not read from the package).
ISPRS_COLORS = [(255, 255, 255), (0, 0, 255), (0, 255, 255), (0, 255, 0), (255, 255, 0), (255, 0, 0)]

#: What a workflow copy needs (the list the pipeline tests copy into tmp_path).
WORKFLOW_ITEMS = (
    "Snakefile",
    "rules",
    "scripts",
    "weakseg",
    "schemas",
    "envs",
    "profiles",
    "report",
    "workflow_config.yaml",
)


# --------------------------------------------------------------------------- real sample data


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real sample data not available: {path} is missing (expected ../shared/data next to the repo)")
    return path


@pytest.fixture(scope="session")
def vaihingen_dir() -> Path:
    """The folder holding the clean Vaihingen sample archives (skips when absent)."""
    _require(VAIHINGEN_DIR / VAIHINGEN_IMAGES)
    _require(VAIHINGEN_DIR / VAIHINGEN_LABELS)
    return VAIHINGEN_DIR


@pytest.fixture(scope="session")
def vaihingen_dirty_labels() -> Path:
    """The ground-truth archive with blended off-palette colours (skips when absent)."""
    return _require(VAIHINGEN_DIR / "dirty" / VAIHINGEN_LABELS)


def read_zip_member(archive: Path, suffix: str) -> bytes:
    """The bytes of the one member of ``archive`` whose name ends with ``suffix``."""
    with zipfile.ZipFile(archive) as handle:
        names = [n for n in handle.namelist() if n.endswith(suffix)]
        assert len(names) == 1, f"{archive}: expected one member ending in {suffix}, got {names}"
        return handle.read(names[0])


def read_tiff_bytes(data: bytes) -> np.ndarray:
    import io

    import tifffile

    return tifffile.imread(io.BytesIO(data))


# --------------------------------------------------------------------------- running scripts


def stage_call(params: dict, input: dict, output: dict) -> list[str]:
    """The two JSON arguments a rule hands its script, ``params.call`` and ``params.files`` (weakseg.ops.stage)."""
    from weakseg.ops.stage import files_json

    return [json.dumps(params), files_json(input, output)]


def run_script(name: str, *args, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``scripts/<name>.py`` with the test interpreter and raw arguments."""
    return subprocess.run(
        [sys.executable, f"scripts/{name}.py", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def run_stage(
    name: str, params: dict, input: dict, output: dict, cwd: Path = REPO, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``scripts/<name>.py`` on one call, as the workflow's rules do."""
    return run_script(name, *stage_call(params, input, output), cwd=cwd, env=env)


def partial_leftovers(*folders: Path) -> list[Path]:
    """Every ``.NAME.partial`` staging path left anywhere under ``folders``."""
    found = []
    for folder in folders:
        if Path(folder).exists():
            found += [p for p in Path(folder).rglob(".*.partial")]
    return found


def assert_failed_cleanly(result: subprocess.CompletedProcess, outputs: list[Path], *fragments: str) -> str:
    """Non-zero exit, a one-line ``error:`` message naming every fragment, no output, no staging leftovers.

    Returns the stderr text.
    """
    stderr = result.stderr
    assert result.returncode != 0, f"expected failure, got exit 0; stderr:\n{stderr}"
    assert "Traceback" not in stderr, f"bad input must give a message, not a traceback:\n{stderr}"
    assert "error:" in stderr, stderr
    for fragment in fragments:
        assert str(fragment) in stderr, f"{fragment!r} not in stderr:\n{stderr}"
    for path in outputs:
        assert not Path(path).exists(), f"{path} exists after a failed step"
    leftovers = partial_leftovers(*{Path(p).parent for p in outputs})
    assert not leftovers, f"staging leftovers: {leftovers}"
    return stderr


# --------------------------------------------------------------------------- building inputs


def write_raw_scene(raw_dir: Path, scene: str, image: np.ndarray, label_rgb: np.ndarray) -> tuple[Path, Path]:
    """Write one scene as the download stage does: images/<scene>.tif, labels/<scene>.tif, scenes.csv."""
    from weakseg.io.imageio import write_tiff

    (raw_dir / "images").mkdir(parents=True, exist_ok=True)
    (raw_dir / "labels").mkdir(parents=True, exist_ok=True)
    image_path, label_path = raw_dir / "images" / f"{scene}.tif", raw_dir / "labels" / f"{scene}.tif"
    write_tiff(image_path, image)
    write_tiff(label_path, label_rgb)
    index = raw_dir / "scenes.csv"
    rows = []
    if index.exists():
        with open(index, newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r["scene"] != scene]
    rows.append({"scene": scene, "image": f"images/{scene}.tif", "label": f"labels/{scene}.tif"})
    with open(index, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["scene", "image", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return image_path, label_path


def write_tiles_csv(path: Path, tiles) -> None:
    """A ``tiles.csv`` as the tile stage writes it, from :class:`weakseg.data.tiling.Tile` objects."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tile_id", "scene", "y", "x", "labeled_fraction"])
        writer.writerows([t.tile_id, t.scene, t.y, t.x, f"{t.labeled_fraction:.6f}"] for t in tiles)


def grid_tiles(scene: str, height: int, width: int, tile_size: int, stride: int):
    """Tiles at every stride position of a ``height`` x ``width`` scene, border-aligned at the end."""
    from weakseg.data.tiling import tile_offsets
    from weakseg.formats.tiles import Tile, tile_id

    return [
        Tile(tile_id(scene, y, x), scene, y, x, 1.0)
        for y in tile_offsets(height, tile_size, stride)
        for x in tile_offsets(width, tile_size, stride)
    ]


# --------------------------------------------------------------------------- workflow copies


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow (code, rules, schema, profile; no data or results) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for item in WORKFLOW_ITEMS:
        source = REPO / item
        if source.is_dir():
            shutil.copytree(source, dest / item, ignore=ignore)
        else:
            shutil.copy2(source, dest / item)
    return dest


def snakemake_env() -> dict:
    """The environment for Snakemake runs: the test venv's ``bin`` first on PATH (rules call ``python``)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    return env


#: Snakemake options of the test studies: each torch job on one thread, two jobs at a time on two
#: cores (Python start-up, a third of a short job, then overlaps with another job's compute).
ONE_THREAD_JOBS = ("--set-threads", "train=1", "evaluate=1", "predict=1")


def run_snakemake(workdir: Path, *args, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run Snakemake (the venv's) in ``workdir``; targets and options go in ``args``."""
    snakemake = Path(sys.executable).parent / "snakemake"
    command = [str(snakemake)] if snakemake.exists() else [sys.executable, "-m", "snakemake"]
    return subprocess.run(
        [*command, *map(str, args)],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=snakemake_env(),
        timeout=timeout,
    )


# --------------------------------------------------------------------------- Cityscapes

CITYSCAPES_DIR = SHARED_DATA / "cityscapes"
CITYSCAPES_FRAME = "frankfurt_000000_000294"
#: A short Cityscapes study on the sequence overlay: synthetic cities, T = 4, ResNetConvLSTM.
CITYSCAPES_SHORT = {
    "training": {"epochs": 2, "steps_per_epoch": 3, "batch_size": 4},
    "pretraining": {"epochs": 1, "steps_per_epoch": 3, "batch_size": 4},
    "experiment": {"seeds": [0], "variants": ["strong_only", "weak_finetuned"]},
    "evaluation": {"gallery_tiles": 2},
}


@pytest.fixture(scope="session")
def cityscapes_dir() -> Path:
    """The folder holding the real Cityscapes sample frame in the official layout (skips when absent)."""
    return _require(
        CITYSCAPES_DIR / "gtFine" / "val" / "frankfurt" / f"{CITYSCAPES_FRAME}_gtFine_labelIds.png"
    ).parents[3]


@pytest.fixture(scope="session")
def cityscapes_run(tmp_path_factory, cityscapes_dir) -> Path:
    """A finished Cityscapes study: ``configs/cityscapes.yaml`` + the demo and sequence overlays.

    Built once per test session: under pytest-xdist the workers share it (the first builds it
    under a lock, the others wait and reuse it).
    """
    import fcntl

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    with open(root / "cityscapes-study.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        workdir = root / "cityscapes-study"
        if not (workdir / "results" / "report.html").is_file():
            shutil.rmtree(workdir, ignore_errors=True)
            _run_cityscapes_study(workdir, cityscapes_dir)
    return workdir


def _run_cityscapes_study(folder: Path, cityscapes_dir: Path) -> None:
    import yaml

    folder.mkdir()
    workdir = copy_workflow(folder)
    shutil.copytree(REPO / "configs", workdir / "configs")
    # 64 x 128 px frames (two 64 px tiles each) instead of 224 x 448: the same study, 12x fewer pixels
    short = {
        **CITYSCAPES_SHORT,
        "dataset": {"source": {"folder": str(cityscapes_dir)}, "resize": [64, 128], "synthetic": {"height": 64}},
        "tiling": {"tile_size": 64, "stride": 64},
    }
    (workdir / "short.yaml").write_text(yaml.safe_dump(short))
    configs = (
        "configs/cityscapes.yaml",
        "configs/cityscapes-demo.yaml",
        "configs/cityscapes-sequences.yaml",
        "short.yaml",
    )
    result = run_snakemake(workdir, "--cores", "2", *ONE_THREAD_JOBS, "--configfile", *configs, timeout=900)
    assert result.returncode == 0, result.stderr[-5000:]


def tile_files(folder: Path) -> TileFiles:
    """The tile rule's files, named as ``rules/data.smk`` names them, in ``folder`` (for hand-made tiles)."""
    names = {"tiles": "tiles.csv", "images": "images.npy", "masks": "masks.npy", "class_pixels": "class_pixels.npy"}
    return TileFiles(**{key: Path(folder) / name for key, name in names.items()})


def offline_files(folder: Path) -> OfflineCopies:
    """The augment rule's offline copies, named as ``rules/data.smk`` names them, in ``folder``."""
    return OfflineCopies(Path(folder) / "images.npy", Path(folder) / "masks.npy", Path(folder) / "copies.csv")


def training_files(folder: Path, weak_labels: Path | None = None) -> TrainingFiles:
    """A run's inputs in one ``folder``: tiles, ``splits.json``, ``strong.yaml``/``weak.yaml``, ``offline/``."""
    folder = Path(folder)
    pipelines = Pipelines(folder / "strong.yaml", folder / "weak.yaml")
    return TrainingFiles(
        tile_files(folder), folder / "splits.json", pipelines, offline_files(folder / "offline"), weak_labels
    )


def run_files(folder: Path) -> RunFiles:
    """The train rule's outputs, named as ``rules/training.smk`` names them, in ``folder``."""
    folder = Path(folder)
    return RunFiles(folder / "model.pt", folder / "last.pt", folder / "history.csv", folder / "tensorboard")


def model_spec(arch, encoder, encoder_weights, in_channels, n_classes, task="auto", mean=None, std=None, frames=1):
    """A :class:`ModelSpec` of ``n_classes`` classes named c0, c1, ... (the tests' shorthand)."""
    from weakseg.formats.model_record import ModelSpec

    names = tuple(f"c{k}" for k in range(n_classes))
    return ModelSpec(arch, encoder, in_channels, names, task, mean, std, frames, encoder_weights)


#: Test files that run whole studies: the SLURM test first (it mostly waits on its cluster, which
#: leaves the CPUs to the next file), then the longest first.
LONG_FILES = (
    "test_slurm.py",
    "test_pipeline.py",
    "test_resume_runs.py",
    "test_cityscapes_pipeline.py",
    "test_dashboard.py",
    "test_potsdam_rgbir.py",
    "test_figaro_pipeline.py",
)


def pytest_collection_modifyitems(config, items):
    """Long files first: under pytest-xdist (``./run test``: ``-n auto --dist loadfile
    --no-loadscope-reorder``, a file per worker, sent in this order) they start at once, and the
    short files fill the other workers meanwhile."""
    rank = {name: position for position, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))
