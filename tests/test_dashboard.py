"""The Streamlit dashboard: AppTest against a finished run, and a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import visit
from conftest import REPO

pytest.importorskip("streamlit", reason="the dashboard extra (streamlit) is not installed")
from streamlit.testing.v1 import AppTest  # noqa: E402

from weakseg.report.dashboard import MAKE_A_RUN, finished_runs, gallery, summary_rows  # noqa: E402

DASHBOARD = str(REPO / "dashboard.py")


def _app(results, monkeypatch) -> AppTest:
    monkeypatch.setenv("WEAKSEG_RESULTS", str(results))
    return AppTest.from_file(DASHBOARD, default_timeout=120).run()


def test_without_a_finished_run_it_says_what_makes_one(tmp_path, monkeypatch):
    app = _app(tmp_path / "results", monkeypatch)
    assert not app.exception
    assert any(MAKE_A_RUN in info.value for info in app.info)


def test_it_shows_the_chosen_runs_images_curves_and_summary(cityscapes_run, monkeypatch):
    results = cityscapes_run / "results"
    runs = finished_runs(results)
    assert [r.variant for r in runs] == ["strong_only", "weak_finetuned"]
    app = _app(results, monkeypatch)
    assert not app.exception
    app.selectbox(key="variant").select("weak_finetuned").run()
    assert not app.exception
    chosen = next(r for r in runs if r.variant == "weak_finetuned")
    metrics = {m.label: m.value for m in app.metric}
    assert (
        metrics["mIoU on test"]
        == f"{__import__('json').loads((chosen.eval_dir / 'metrics.json').read_text())['miou']:.3f}"
    )
    tiles = gallery(chosen)
    assert app.selectbox(key="tile").options == [t.tile_id for t in tiles]
    assert metrics["IoU of this tile"] == f"{tiles[0].miou:.3f}"
    captions = [img.caption for element in app.get("image") for img in element.proto.imgs]
    frames = ["input t-3", "input t-2", "input t-1", "input (annotated)"]
    assert captions == [*frames, "ground truth (unlabelled black)", "prediction"]
    charts = app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")
    assert len(charts) == 2  # loss and mIoU curves
    app.multiselect(key="compared").select(runs[0].label).run()
    assert not app.exception
    assert len(app.dataframe) == 1
    assert len(summary_rows(results)) == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_headless_chromium_loads_it_without_errors(cityscapes_run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    port = _free_port()
    env = {**os.environ, "WEAKSEG_RESULTS": str(cityscapes_run / "results")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            DASHBOARD,
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        page = visit(browser, url, "t-intervals of the mean over seeds", _free_port(), timeout=90)
        assert "weakseg results" in page["text"] and "Run strong_only / weak-none / strong-0.1 / seed-0" in page["text"]
        assert "Traceback" not in page["text"] and "Error" not in page["text"]
        assert page["errors"] == []
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "Traceback" not in output, output[-3000:]


def test_damaged_or_odd_runs_are_named_and_skipped_the_rest_shown(cityscapes_run, tmp_path, monkeypatch):
    """The red team's cases: truncated metrics.json, a garbage or empty history, no miou, a stray seed-old."""
    results = tmp_path / "results"
    shutil.copytree(cityscapes_run / "results", results)
    good = finished_runs(results)
    source = good[0]
    damage = {
        "seed-1": ("metrics.json", lambda p: p.write_text(p.read_text()[:25])),
        "seed-2": ("history.csv", lambda p: p.write_text(p.read_text() + "3,garbage,x,y\n")),
        "seed-3": ("history.csv", lambda p: p.write_text("")),
        "seed-4": ("metrics.json", lambda p: p.write_text('{"oa": 0.5}')),
        "seed-old": (None, None),
    }
    for seed, (name, spoil) in damage.items():
        run_dir = Path(
            source.variant, f"weak-{source.weak_kind}", f"strong-{source.strong_fraction}", seed, source.point
        )
        model_dir, eval_dir = results / "models" / run_dir, results / "eval" / run_dir
        shutil.copytree(source.model_dir, model_dir)
        shutil.copytree(source.eval_dir, eval_dir)
        if name:
            spoil((model_dir if name == "history.csv" else eval_dir) / name)
    skipped = []
    assert finished_runs(results, skipped) == good
    assert len(skipped) == 5
    for seed in damage:
        assert any(f"/{seed}/" in line for line in skipped), (seed, skipped)
    assert any("line" in line and "'garbage'" in line for line in skipped)
    assert any("no miou" in line for line in skipped)
    app = _app(results, monkeypatch)
    assert not app.exception
    assert "5 run(s) skipped" in app.warning[0].value and "seed-old" in app.warning[0].value
    assert len(app.dataframe) == 1
