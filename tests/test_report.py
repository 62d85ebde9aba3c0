"""The HTML report: self-contained, and its numbers are the numbers of the results files."""

import csv
import hashlib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from weakseg.datasets import get_dataset
from weakseg.errors import WeaksegError
from weakseg.report import BASELINE, METRICS, ReportInputs, build_report

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("strong_only", "weak_only", "weak_finetuned")
CLASSES = get_dataset("synthetic").class_names
TILE = 8
CONFIG = {"dataset": {"name": "synthetic"}, "tiling": {"tile_size": TILE, "stride": TILE}, "split": {"seed": 0}}
SCORES = {  # miou, mean_f1, oa, fraction_mae per variant
    "strong_only": (0.46312, 0.58141, 0.80077, 0.05123),
    "weak_only": (0.31149, 0.40456, 0.70003, 0.03388),
    "weak_finetuned": (0.51249, 0.63002, 0.83391, 0.04461),
}


def _write_csv(path: Path, header: list, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _fake_results(root: Path) -> ReportInputs:
    """A tiny results tree: 6 tiles of 8 px in 2 scenes, 2 per set, 3 variants of 3 epochs."""
    rng = np.random.default_rng(0)
    ids = [f"scene{s:03d}_y{y:05d}_x00000" for s in range(2) for y in (0, 8, 16)]
    tiles_dir = root / "data/synthetic/tiles"
    tiles_dir.mkdir(parents=True)
    _write_csv(tiles_dir / "tiles.csv", ["tile_id", "scene", "y", "x", "labeled_fraction"],
               [[t, t[:8], int(t[10:15]), 0, "1.0"] for t in ids])
    masks = rng.integers(0, len(CLASSES), (6, TILE, TILE)).astype(np.uint8)
    masks[0, 0, :] = 255
    np.save(tiles_dir / "images.npy", rng.integers(0, 256, (6, TILE, TILE, 3), dtype=np.uint8))
    np.save(tiles_dir / "masks.npy", masks)
    sets = {"strong": ids[:2], "weak": ids[2:4], "val": ids[4:]}
    splits = root / "results/split/splits.json"
    splits.parent.mkdir(parents=True)
    splits.write_text(json.dumps({"sets": sets, "counts": {k: 2 for k in sets}, "n_tiles": 6, "n_groups": 6,
                                  "dropped_overlap": 0, "settings": {"seed": 0}}))
    set_of = {t: name for name, members in sets.items() for t in members}
    fractions = rng.dirichlet(np.ones(len(CLASSES)), 6)
    _write_csv(root / "results/weak_labels/weak_labels.csv", ["tile_id", "set", *CLASSES],
               [[t, set_of[t], *f] for t, f in zip(ids, fractions)])
    _write_csv(root / "results/weak_labels/summary.csv", ["set", "class", "n_tiles", "mean", "std", "min", "max", "present"],
               [[s, c, 2, 0.2, 0.1, 0.0, 0.4, 0.5] for s in ("strong", "weak", "val", "all") for c in CLASSES])
    _png(root / "results/augment/preview.png", rng.integers(0, 256, (16, 32, 3), dtype=np.uint8))
    paths = {k: [] for k in ("histories", "metrics", "per_class", "confusions", "predictions")}
    for variant in VARIANTS:
        paths["histories"].append(_fake_history(root / f"results/models/{variant}/history.csv", rng))
        model_dir = root / f"results/eval/{variant}"
        paths["metrics"].append(_fake_metrics(model_dir / "metrics.json", variant))
        paths["per_class"].append(model_dir / "per_class.csv")
        _write_csv(model_dir / "per_class.csv", ["class", "iou", "precision", "recall", "f1", "support"],
                   [[c, "" if c == "clutter" else rng.random(), 0.5, 0.5, 0.5, 100 * k] for k, c in enumerate(CLASSES)])
        paths["confusions"].append(model_dir / "confusion.csv")
        counts = rng.integers(0, 50, (len(CLASSES), len(CLASSES)))
        counts[-1] = 0
        _write_csv(model_dir / "confusion.csv", ["true\\pred", *CLASSES], [[c, *row] for c, row in zip(CLASSES, counts)])
        paths["predictions"].append(model_dir / "predictions")
        for t in sets["val"]:
            _png(model_dir / "predictions" / f"{t}.png", rng.integers(0, 256, (TILE, TILE, 3), dtype=np.uint8))
    benchmarks = []
    for rel, seconds in (("prepare/synthetic/scene000.tsv", 1.5), ("prepare/synthetic/scene001.tsv", 2.25), ("split.tsv", 0.5)):
        path = root / "results/benchmarks" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t10.5\n")
        benchmarks.append(path)
    return ReportInputs(
        config=CONFIG, dataset="synthetic", tiles=tiles_dir / "tiles.csv", images=tiles_dir / "images.npy",
        masks=tiles_dir / "masks.npy", splits=splits, weak_labels=root / "results/weak_labels/weak_labels.csv",
        weak_summary=root / "results/weak_labels/summary.csv", preview=root / "results/augment/preview.png",
        variants=VARIANTS, benchmarks=tuple(benchmarks), **{k: tuple(v) for k, v in paths.items()},
    )


def _fake_history(path: Path, rng) -> Path:
    header = ["epoch", "train_loss", "val_loss", "val_miou", "val_oa", "lr", "seconds", *(f"iou_{c}" for c in CLASSES)]
    _write_csv(path, header, [[e, 1 / e, 1.2 / e, 0.1 * e, 0.5, 1e-3, 2.0, *rng.random(len(CLASSES))] for e in (1, 2, 3)])
    return path


def _fake_metrics(path: Path, variant: str) -> Path:
    per_class = {c: {"iou": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 10} for c in CLASSES}
    per_class["clutter"] = {"iou": None, "precision": None, "recall": None, "f1": None, "support": 0}
    data = dict(zip(("miou", "mean_f1", "oa", "fraction_mae"), SCORES[variant]))
    data.update(variant=variant, class_names=list(CLASSES), n_tiles=2, n_pixels=128, per_class=per_class,
                absent_class_policy="classes absent from ground truth and predictions are left out of the means",
                absent_classes=["clutter"], device="cpu", checkpoint="best.pt", best_epoch=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


class _Cells(HTMLParser):
    """Collects the text of every <td> carrying data-variant and data-metric, and every img src."""

    def __init__(self):
        super().__init__()
        self.values, self.diffs, self.srcs, self._open = {}, {}, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.srcs.append(attrs.get("src", ""))
        if tag == "td" and "data-variant" in attrs and "data-metric" in attrs:
            target = self.diffs if "data-diff-to" in attrs else self.values
            self._open = (target, (attrs["data-variant"], attrs["data-metric"]))
            target[self._open[1]] = ""

    def handle_data(self, data):
        if self._open:
            self._open[0][self._open[1]] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self._open = None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    inputs = _fake_results(root)
    build_report(inputs, root / "results/report.html")
    page = (root / "results/report.html").read_text(encoding="utf-8")
    cells = _Cells()
    cells.feed(page)
    return inputs, page, cells


def test_report_is_self_contained(built):
    inputs, page, cells = built
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "url(" not in page and "<link" not in page.lower()
    assert all(src.startswith("data:image/png;base64,") for src in cells.srcs)
    assert len(re.findall(r"\bsrc=", page)) == len(cells.srcs)
    # 5 charts + preview + 2 val tiles x (image, ground truth, 3 predictions)
    assert len(cells.srcs) == 6 + 2 * (2 + len(VARIANTS))


def test_metrics_table_matches_metrics_json(built):
    inputs, _, cells = built
    metrics = {v: json.loads(p.read_text()) for v, p in zip(inputs.variants, inputs.metrics)}
    for key, _ in METRICS:
        for variant in VARIANTS:
            assert float(cells.values[variant, key]) == pytest.approx(metrics[variant][key], abs=5e-5 + 1e-12)
            assert re.fullmatch(r"\d+\.\d{4}", cells.values[variant, key])
        assert (BASELINE, key) not in cells.diffs
        for variant in VARIANTS[1:]:
            text = cells.diffs[variant, key]
            assert re.fullmatch(r"[+-]\d+\.\d{3}", text)
            assert float(text) == pytest.approx(metrics[variant][key] - metrics[BASELINE][key], abs=5e-4 + 1e-12)


def test_answer_states_the_mIoU_gain(built):
    _, page, _ = built
    assert "weak_finetuned mIoU 0.512 vs strong_only 0.463: +0.049" in page
    assert "weak_only mIoU 0.311 vs strong_only 0.463: -0.152" in page
    assert "Pretraining on weak labels helped" in page


def test_provenance_hash_and_benchmark_totals(built):
    _, page, _ = built
    assert hashlib.sha256(json.dumps(CONFIG, sort_keys=True).encode()).hexdigest()[:12] in page
    assert re.search(r"<td>prepare</td><td class='num'>2</td><td class='num'>3\.8</td>", page)  # 1.5 + 2.25 s
    assert re.search(r"<td>total</td><td class='num'>3</td><td class='num'>4\.2</td>", page)
    assert "tile_size: 8" in page  # the config as YAML


@pytest.mark.parametrize("field, index", [("per_class", 1), ("preview", None), ("benchmarks", 2)])
def test_missing_input_names_the_file(tmp_path, field, index):
    inputs = _fake_results(tmp_path)
    missing = getattr(inputs, field) if index is None else getattr(inputs, field)[index]
    missing.unlink()
    out = tmp_path / "report.html"
    with pytest.raises(WeaksegError, match=re.escape(str(missing))):
        build_report(inputs, out)
    assert not out.exists()


def test_command_line(tmp_path):
    inputs = _fake_results(tmp_path)
    out = tmp_path / "results/report.html"
    args = [sys.executable, str(ROOT / "scripts/report.py"), "--config-json", json.dumps(CONFIG),
            "--dataset", "synthetic", "--tiles", inputs.tiles, "--images", inputs.images, "--masks", inputs.masks,
            "--splits", inputs.splits, "--weak-labels", inputs.weak_labels, "--weak-summary", inputs.weak_summary,
            "--preview", inputs.preview, "--variants", *VARIANTS, "--histories", *inputs.histories,
            "--metrics", *inputs.metrics, "--per-class", *inputs.per_class, "--confusions", *inputs.confusions,
            "--predictions", *inputs.predictions, "--benchmarks", *inputs.benchmarks, "--out", out]
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "git commit</td><td>unknown</td>" in out.read_text(encoding="utf-8")  # tmp_path is no git repo
    inputs.metrics[0].unlink()
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and str(inputs.metrics[0]) in result.stderr
