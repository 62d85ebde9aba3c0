"""The experiment end to end: Snakemake on a shortened demo, then what its outputs must satisfy."""

from __future__ import annotations

import csv
import html
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ONE_THREAD_JOBS, copy_workflow, partial_leftovers, run_snakemake, snakemake_env

from weakseg.design.experiment import Run, uses_weak_labels
from weakseg.learn.metrics import confusion_matrix, segmentation_metrics

pytestmark = pytest.mark.pipeline

#: The demo data with a test set, two seeds and shorter schedules, so that the whole study
#: (5 variants x 2 seeds) takes a few minutes on 2 CPU cores.
SHORT_DEMO = {
    "split": {"fractions": {"strong": 0.1, "weak": 0.6, "val": 0.15, "test": 0.15}},
    "training": {"epochs": 4, "steps_per_epoch": 8},
    "pretraining": {"epochs": 2, "steps_per_epoch": 4},
    "experiment": {"seeds": [0, 1], "variants": ["strong_only", "weak_only", "weak_finetuned", "joint", "full"]},
    "evaluation": {"gallery_tiles": 3},
}
VARIANT_NAMES = tuple(SHORT_DEMO["experiment"]["variants"])


def run_of(variant: str, seed: int) -> Run:
    kind = "proportions" if uses_weak_labels(variant) else "none"
    return Run(variant, "all" if variant == "full" else "0.1", seed, weak_kind=kind)


def run_dir(variant: str, seed: int) -> str:
    return run_of(variant, seed).path


def planned_jobs(workdir: Path, *args) -> dict[str, int]:
    """Rule -> job count of what ``snakemake -n`` would run now."""
    result = run_snakemake(workdir, "-n", *args)
    assert result.returncode == 0, result.stderr + result.stdout
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("demo"))
    (workdir / "short.yaml").write_text(yaml.safe_dump(SHORT_DEMO))
    result = run_snakemake(workdir, "--cores", "2", *ONE_THREAD_JOBS, "--configfile", "short.yaml", timeout=900)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def test_the_run_writes_every_artifact_of_the_experiment(demo_run):
    for variant in VARIANT_NAMES:
        for seed in (0, 1):
            run = run_dir(variant, seed)
            assert (demo_run / f"results/models/{run}/model.pt").is_file()
            assert any((demo_run / f"results/models/{run}/tensorboard").iterdir())
            assert not (demo_run / f"results/models/{run}/resume").exists()
            history = (demo_run / f"results/models/{run}/history.csv").read_text().splitlines()
            assert len(history) == 1 + (2 if variant == "weak_only" else 4)
            assert len(list((demo_run / f"results/eval/{run}/predictions").glob("*.png"))) == 3
    assert (demo_run / "results/report.html").stat().st_size > 10_000
    assert (demo_run / f"results/benchmarks/train/{run_dir('joint', 1)}.tsv").is_file()


def read_summary_csv(workdir: Path) -> list[dict]:
    with open(workdir / "results/summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_number_is_scored_on_the_test_set_and_the_final_epoch(demo_run):
    rows = read_summary_csv(demo_run)
    assert len(rows) == 10
    assert {r["set"] for r in rows} == {"test"}
    assert all(r["selected"] == "last" and r["epoch"] == r["last_epoch"] for r in rows)
    metrics = json.loads((demo_run / f"results/eval/{run_dir('strong_only', 0)}/metrics.json").read_text())
    splits = json.loads((demo_run / "results/split/seed-0/splits.json").read_text())
    assert metrics["set"] == "test" and metrics["n_tiles"] == len(splits["sets"]["test"])
    page = (demo_run / "results/report.html").read_text()
    assert "Scores on the <b>test</b> tiles" in page and "optimistic" not in page


def test_strong_only_beats_predicting_the_majority_class(demo_run):
    splits = json.loads((demo_run / "results/split/seed-0/splits.json").read_text())
    tiles = (demo_run / "data/synthetic/tiles/tiles.csv").read_text().splitlines()[1:]
    row_of = {line.split(",")[0]: i for i, line in enumerate(tiles)}
    masks = np.load(demo_run / "data/synthetic/tiles/masks.npy")
    strong = masks[[row_of[t] for t in splits["sets"]["strong"]]]
    test = masks[[row_of[t] for t in splits["sets"]["test"]]]
    majority = np.bincount(strong[strong != 255], minlength=6).argmax()
    names = [str(i) for i in range(6)]
    baseline = segmentation_metrics(confusion_matrix(np.full_like(test, majority), test, 6), names)["miou"]
    learned = np.mean([float(r["miou"]) for r in read_summary_csv(demo_run) if r["variant"] == "strong_only"])
    assert learned > 2.5 * baseline, (learned, baseline)
    # The report's majority-class row is the same constant prediction, scored by the same metrics.
    page = (demo_run / "results/report.html").read_text()
    shown = re.search(r'data-variant="majority" data-metric="miou" data-stat="mean">([0-9.]+)<', page)
    assert shown and float(shown.group(1)) == pytest.approx(baseline, abs=5e-4)


def test_report_numbers_equal_summary_csv(demo_run):
    from scipy import stats

    page = (demo_run / "results/report.html").read_text()
    assert "http://" not in page and "https://" not in page
    cells = {}
    for match in re.finditer(r"<td([^>]*)>([^<]*)<", page):
        attributes = dict(re.findall(r"""data-([a-z-]+)=['"]([^'"]+)['"]""", match.group(1)))
        if attributes.get("stat") in ("mean", "diff") and "point" not in attributes and "metric" in attributes:
            key = (attributes["variant"], attributes.get("strong-fraction"), attributes["metric"], attributes["stat"])
            text = html.unescape(match.group(2)).rstrip(" †")
            cells[key] = math.nan if text == "n/a" else float(text)
    rows = read_summary_csv(demo_run)
    checked = 0
    for variant in VARIANT_NAMES:
        fraction, arm = ("all" if variant == "full" else "0.1"), run_of(variant, 0).arm
        mine = [r for r in rows if r["variant"] == variant]
        for key in ("miou", "mean_f1", "oa", "proportion_mae"):
            assert cells[(arm, fraction, key, "mean")] == pytest.approx(
                np.mean([float(r[key]) for r in mine]), abs=5e-4
            )
            checked += 1
        if variant != "strong_only":
            base = {r["seed"]: float(r["miou"]) for r in rows if r["variant"] == "strong_only"}
            diffs = [float(r["miou"]) - base[r["seed"]] for r in mine]
            assert cells[(arm, "0.1", "miou", "diff")] == pytest.approx(np.mean(diffs), abs=5e-4)
    assert checked == 20
    pretrained = sorted((r["seed"], float(r["miou"])) for r in rows if r["variant"] == "weak_finetuned")
    baseline = sorted((r["seed"], float(r["miou"])) for r in rows if r["variant"] == "strong_only")
    diffs = np.subtract([v for _, v in pretrained], [v for _, v in baseline])
    low, high = stats.t.interval(0.95, len(diffs) - 1, loc=diffs.mean(), scale=stats.sem(diffs))
    expected = "helped" if low > 0 else "hurt" if high < 0 else "No difference detectable with 2 seeds"
    assert expected in page


def test_editing_the_learning_rate_reruns_the_runs_that_use_it_only(demo_run):
    assert planned_jobs(demo_run, "--configfile", "short.yaml") == {}
    config = yaml.safe_load((demo_run / "short.yaml").read_text())
    config["training"]["lr"] = 0.001
    (demo_run / "lr.yaml").write_text(yaml.safe_dump(config))
    planned = planned_jobs(demo_run, "--configfile", "lr.yaml")
    # strong_only, weak_finetuned, joint and full use training.lr; weak_only does not
    assert planned == {"train": 8, "evaluate": 8, "summary": 1, "report": 1, "all": 1}


def test_adding_a_seed_plans_only_that_seeds_runs(demo_run):
    config = yaml.safe_load((demo_run / "short.yaml").read_text())
    config["experiment"]["seeds"] = [0, 1, 2]
    (demo_run / "seeds.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(demo_run, "-n", "--configfile", "seeds.yaml")
    assert result.returncode == 0, result.stderr
    planned = planned_jobs(demo_run, "--configfile", "seeds.yaml")
    assert planned == {"train": 5, "evaluate": 5, "summary": 1, "report": 1, "all": 1}
    jobs = re.findall(
        r"wildcards: variant=\w+, weak_kind=\w+, strong_fraction=[\w.]+, seed=(\d+)", result.stdout + result.stderr
    )
    assert jobs and set(jobs) == {"2"}


def _without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if not k.endswith("_seconds")} for row in rows]


def _kill_snakemake_when(workdir: Path, started: Path, *args) -> None:
    """Start Snakemake, SIGKILL it (only it) once ``started`` exists, and wait for its orphaned jobs to end."""
    snakemake = Path(sys.executable).parent / "snakemake"
    process = subprocess.Popen(
        [str(snakemake), "--cores", "2", *args, *ONE_THREAD_JOBS],  # targets before the multi-value options
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=snakemake_env(),
        start_new_session=True,  # its jobs share its process group, so their end can be awaited
    )
    deadline = time.monotonic() + 300
    while not started.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists() and process.poll() is None, "the job never started"
    process.send_signal(signal.SIGKILL)
    process.wait()
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)  # the orphaned job still runs
        except ProcessLookupError:
            break
        time.sleep(0.1)


def test_a_killed_snakemake_recovers_with_unlock_to_the_same_summary(demo_run, tmp_path):
    """kill -9 of Snakemake itself during evaluate, then during summary; each time the README's recovery
    (--unlock, rerun) gives the uninterrupted run's summary."""
    workdir = tmp_path / "copy"
    shutil.copytree(demo_run, workdir, symlinks=True)
    before = read_summary_csv(workdir)
    run = run_dir("strong_only", 0)
    for stage in ("evaluate", "summary"):
        for path in (workdir / "results/summary.csv", workdir / "results/logs/summary.log"):
            path.unlink()
        if stage == "evaluate":
            shutil.rmtree(workdir / f"results/eval/{run}")
        log = workdir / ("results/logs/summary.log" if stage == "summary" else f"results/logs/evaluate/{run}.log")
        log.unlink(missing_ok=True)
        _kill_snakemake_when(workdir, log, "results/summary.csv", "--configfile", "short.yaml")
        plain = run_snakemake(
            workdir, "results/summary.csv", "--cores", "2", *ONE_THREAD_JOBS, "--configfile", "short.yaml"
        )
        assert plain.returncode != 0 and "--unlock" in plain.stdout + plain.stderr, stage  # Snakemake's LockException
        unlock = run_snakemake(workdir, "results/summary.csv", "--unlock", "--configfile", "short.yaml")
        assert unlock.returncode == 0, unlock.stderr[-3000:]
        rerun = run_snakemake(
            workdir, "results/summary.csv", "--cores", "2", *ONE_THREAD_JOBS, "--configfile", "short.yaml"
        )
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert _without_seconds(read_summary_csv(workdir)) == _without_seconds(before), stage
        assert not partial_leftovers(workdir / "results")


def test_editing_resources_reruns_nothing(demo_run):
    """Hostile round four: a mem_mb edit reran the report job (its params held the whole config)."""
    config = yaml.safe_load((demo_run / "short.yaml").read_text())
    config["resources"] = {"rules": {"train": {"mem_mb": 64000}}, "job_defaults": {"runtime": 90}}
    (demo_run / "resources.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(demo_run, "--configfile", "resources.yaml") == {}


def test_predict_reruns_when_an_image_of_its_folder_changes(demo_run):
    """Hostile round four: new pixels in a predicted image gave "Nothing to be done" and stale outputs."""
    from PIL import Image

    folder = demo_run / "to_predict"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    config = yaml.safe_load((demo_run / "short.yaml").read_text())
    config["predict"] = {"input": str(folder)}
    (demo_run / "predict.yaml").write_text(yaml.safe_dump(config))
    target = f"results/predict/{run_dir('strong_only', 0)}"
    args = (target, "--cores", "2", *ONE_THREAD_JOBS, "--configfile", "predict.yaml")
    assert run_snakemake(demo_run, *args).returncode == 0
    out = demo_run / target
    first = {name: (out / f"{name}.png").read_bytes() for name in ("a", "b")}
    assert planned_jobs(demo_run, target, "--configfile", "predict.yaml") == {}
    # new pixels in a.png (half the image a flat colour): the job is planned again (the stage reads the files
    # the rule gives it, tests/test_predict.py)
    pixels = np.asarray(Image.open(folder / "a.png")).copy()
    pixels[:, :48] = (0, 0, 255)
    Image.fromarray(pixels).save(folder / "a.png")
    assert planned_jobs(demo_run, target, "--configfile", "predict.yaml") == {"predict": 1}
    assert all((out / f"{name}.png").read_bytes() == first[name] for name in first)  # the plan changed nothing yet
