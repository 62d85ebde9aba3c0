"""The HTML report: self-contained, its numbers are those of summary.csv, and it says what was selected where."""

import csv
import dataclasses
import hashlib
import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import stage_call
from PIL import Image
from scipy import stats

from weakseg.datasets import get_dataset
from weakseg.design.experiment import VARIANTS, Run
from weakseg.formats.summary import IOU_PREFIX, write_summary
from weakseg.io.errors import WeaksegError
from weakseg.ops.config import schema_defaults
from weakseg.report.html import ReportInputs, build_report

ROOT = Path(__file__).resolve().parents[1]
CLASSES = get_dataset("synthetic").class_names
TILE = 8
SEEDS = (0, 1, 2)


def _merged(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` merged in, key by key (as a layered --configfile)."""
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merged(base[key], value) if isinstance(value, dict) and key in base else value
    return merged


#: The schema's defaults (schedules: the report shows each method's compute) with the study's own settings.
CONFIG = _merged(
    schema_defaults(yaml.safe_load((ROOT / "schemas/config.schema.yaml").read_text())),
    {
        "dataset": {"name": "synthetic", "labels": "complete", "scoring_labels": None},
        "tiling": {"tile_size": TILE, "stride": TILE},
        "split": {
            "seed": 0,
            "fractions": {"strong": 0.1, "weak": 0.7, "val": 0.2},
            "use_official_test": False,
            "group_by": "block",
        },
        "evaluation": {"mode": "tiles"},
        "training": {"checkpoint": "last"},
        "experiment": {"weak_kinds": ["proportions"], "resample_split": False, "effect_of_interest": 0.02},
        "annotation": {"full": 240.0, "proportions": 60.0},
    },
)
#: mIoU per arm and seed; weak_finetuned beats strong_only in every seed.
MIOU = {
    "strong_only": (0.40, 0.42, 0.38),
    "strong_only_long": (0.41, 0.43, 0.40),
    "weak_only[proportions]": (0.20, 0.25, 0.22),
    "weak_finetuned[proportions]": (0.45, 0.46, 0.44),
    "shuffled_labels[proportions]": (0.39, 0.43, 0.39),
    "joint[proportions]": (0.41, 0.47, 0.36),
    "matched_joint": (0.42, 0.44, 0.41),
    "full": (0.55, 0.57, 0.56),
}
PRETRAINED = "weak_finetuned[proportions]"


def arm_run(arm: str, seed: int, point: str = "default") -> Run:
    """The run of ``arm`` (``variant`` or ``variant[kind]``) at 10% (``full``: all) and ``seed``."""
    variant, _, kind = arm.rstrip("]").partition("[")
    return Run(variant, "all" if variant == "full" else "0.1", seed, point, kind or "none")


def _write_csv(path: Path, header: list, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def summary_rows(scored_set="val", selected="last", grid=()) -> list[dict]:
    """Constructed runs: every variant x seed at 10% (full at "all"), plus grid points of strong_only."""
    rng = np.random.default_rng(1)
    rows = []
    runs = [(arm_run(arm, s), MIOU[arm][i]) for arm in MIOU for i, s in enumerate(SEEDS)]
    runs += [
        (arm_run("strong_only", s, point), 0.3 + 0.01 * k + 0.001 * s) for k, point in enumerate(grid) for s in SEEDS
    ]
    for run, miou in runs:
        row = {
            "variant": run.variant,
            "weak_kind": run.weak_kind,
            "strong_fraction": run.strong_fraction,
            "seed": run.seed,
            "point": run.point,
            "set": scored_set,
            "miou": miou,
            "mean_f1": miou + 0.1,
            "oa": miou + 0.3,
            "dice": miou + 0.2,
            "proportion_mae": 0.1 - miou / 10,
            "miou_without": miou + 0.05,
            "mean_f1_without": miou + 0.15,
            "oa_without": miou + 0.32,
            "epoch": 3,
            "selected": selected,
            "best_epoch": 2,
            "last_epoch": 3,
            "val_miou": miou - 0.01,
            "train_seconds": 10.0,
            "eval_seconds": 2.0,
        }
        row.update({IOU_PREFIX + c: float(rng.random()) for c in CLASSES})
        row[IOU_PREFIX + "clutter"] = None
        rows.append(row)
    return rows


def _fake_results(root: Path, **summary) -> ReportInputs:
    """A tiny results tree: 8 tiles of 8 px in 2 scenes, the main runs' files, a constructed summary.csv."""
    rng = np.random.default_rng(0)
    ids = [f"scene{s:03d}_y{y:05d}_x00000" for s in range(2) for y in (0, 8, 16, 24)]
    tiles_dir = root / "data/synthetic/tiles"
    tiles_dir.mkdir(parents=True)
    _write_csv(
        tiles_dir / "tiles.csv",
        ["tile_id", "scene", "y", "x", "labeled_fraction"],
        [[t, t[:8], int(t[10:15]), 0, "1.0"] for t in ids],
    )
    masks = rng.integers(0, len(CLASSES), (8, TILE, TILE)).astype(np.uint8)
    masks[0, 0, :] = 255
    masks[:2, 4:] = 2  # class 2 is the strong set's majority class
    np.save(tiles_dir / "images.npy", rng.integers(0, 256, (8, TILE, TILE, 3), dtype=np.uint8))
    np.save(tiles_dir / "masks.npy", masks)
    counts = np.stack([np.bincount(m[m != 255], minlength=len(CLASSES)) for m in masks]).astype(np.int64)
    np.save(tiles_dir / "class_pixels.npy", counts)
    sets = {"strong": ids[:2], "weak": ids[2:4], "val": ids[4:6], "test": ids[6:]}
    splits = root / "results/split/seed-0/splits.json"
    splits.parent.mkdir(parents=True)
    pool = {t: {"rank": 0.5 + i, "neighbour_rank": None} for i, t in enumerate(ids[:4])}
    splits.write_text(json.dumps({"sets": sets, "pool": pool, "n_tiles": 8, "n_groups": 8, "dropped_overlap": 0}))
    set_of = {t: name for name, members in sets.items() for t in members}
    fractions = rng.dirichlet(np.ones(len(CLASSES)), 8)
    weak_labels = root / "results/weak_labels/seed-0/proportions/weak_labels.csv"
    rows = [[t, set_of[t], *f] for t, f in zip(ids, fractions, strict=True)]
    _write_csv(weak_labels, ["tile_id", "set", *CLASSES], rows)
    weak_summary = root / "results/weak_labels/seed-0/proportions/summary.csv"
    _write_csv(
        weak_summary,
        ["set", "class", "n_tiles", "mean", "std", "min", "max", "present"],
        [[s, c, 2, 0.2, 0.1, 0.0, 0.4, 0.5] for s in ("strong", "weak", "val", "test", "all") for c in CLASSES],
    )
    _png(root / "results/augment/seed-0/preview.png", rng.integers(0, 256, (16, 32, 3), dtype=np.uint8))
    main_runs = [arm_run(arm, s).path for arm in MIOU for s in SEEDS]
    paths = {k: [] for k in ("histories", "confusions", "predictions")}
    for run in main_runs:
        paths["histories"].append(_fake_history(root / f"results/models/{run}/history.csv", rng))
        eval_dir = root / f"results/eval/{run}"
        counts = rng.integers(0, 50, (len(CLASSES), len(CLASSES)))
        counts[-1] = 0
        rows = [[c, *row] for c, row in zip(CLASSES, counts, strict=True)]
        _write_csv(eval_dir / "confusion.csv", ["true\\pred", *CLASSES], rows)
        paths["confusions"].append(eval_dir / "confusion.csv")
        paths["predictions"].append(eval_dir / "predictions")
        for t in sets["val"]:
            _png(eval_dir / "predictions" / f"{t}.png", rng.integers(0, 256, (TILE, TILE, 3), dtype=np.uint8))
    write_summary(root / "results/summary.csv", summary_rows(**summary))
    benchmarks = []
    for rel, seconds in (("train/a/x.tsv", 1.5), ("train/b/y.tsv", 2.25), ("summary.tsv", 0.5)):
        path = root / "results/benchmarks" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t10.5\n")
        benchmarks.append(path)
    return ReportInputs(
        config=CONFIG,
        dataset="synthetic",
        summary=root / "results/summary.csv",
        tiles=tiles_dir / "tiles.csv",
        images=tiles_dir / "images.npy",
        masks=tiles_dir / "masks.npy",
        class_pixels=tiles_dir / "class_pixels.npy",
        splits=splits,
        weak_labels=weak_labels,
        weak_summary=weak_summary,
        preview=root / "results/augment/seed-0/preview.png",
        template=ROOT / "report/templates/report.html.j2",
        css=ROOT / "report/templates/report.css",
        main_runs=tuple(main_runs),
        benchmarks=tuple(benchmarks),
        **{k: tuple(v) for k, v in paths.items()},
    )


def _fake_history(path: Path, rng) -> Path:
    header = ["epoch", "train_loss", "val_loss", "val_miou", "val_oa", "lr", "seconds", *(f"iou_{c}" for c in CLASSES)]
    _write_csv(
        path, header, [[e, 1 / e, 1.2 / e, 0.1 * e, 0.5, 1e-3, 2.0, *rng.random(len(CLASSES))] for e in (1, 2, 3)]
    )
    return path


class Cells(HTMLParser):
    """Collects every <td> text with data-variant, -strong-fraction, -metric, -stat (and -point), and img srcs."""

    def __init__(self):
        super().__init__()
        self.values, self.srcs, self._open = {}, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.srcs.append(attrs.get("src", ""))
        if tag == "td" and "data-stat" in attrs:
            key = (
                attrs["data-variant"],
                attrs.get("data-strong-fraction"),
                attrs.get("data-metric"),
                attrs["data-stat"],
            )
            if "data-control" in attrs:
                key += (attrs["data-control"],)
            if "data-point" in attrs:
                key += (attrs["data-point"],)
            self._open = key
            self.values[key] = ""

    def handle_data(self, data):
        if self._open:
            self.values[self._open] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self._open = None


def render(tmp_path, **summary):
    inputs = _fake_results(tmp_path, **summary)
    build_report(inputs, tmp_path / "results/report.html")
    page = (tmp_path / "results/report.html").read_text(encoding="utf-8")
    cells = Cells()
    cells.feed(page)
    return inputs, page, cells


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return render(tmp_path_factory.mktemp("results"))


def test_report_is_self_contained(built):
    _, page, cells = built
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "url(" not in page and "<link" not in page.lower()
    assert all(src.startswith("data:image/png;base64,") for src in cells.srcs)
    assert len(re.findall(r"\bsrc=", page)) == len(cells.srcs)
    # 6 charts (per-class, annotation cost, curves, confusion, classes per set, weak labels) + preview
    # + 2 val tiles x (image, ground truth, one prediction per arm of seed 0); one fraction: no efficiency plot
    assert len(cells.srcs) == 7 + 2 * (2 + len(MIOU))


def test_the_protocol_card_and_the_scores_without_clutter(built):
    _, page, cells = built
    card = html.unescape(re.search(r'<table class="protocol".*?</table>', page, re.S).group(0))
    assert "synthetic: 6 classes (impervious_surfaces, building, low_vegetation, tree, car, clutter)" in card
    assert "the dataset's labels, tiles; the val set, drawn by split.group_by: block (seeded)" in card
    assert "also without clutter" in card
    rows = summary_rows()
    for metric in ("miou_without", "mean_f1_without", "oa_without"):
        values = [r[metric] for r in rows if r["variant"] == "strong_only" and r["point"] == "default"]
        assert float(cells.values["strong_only", "0.1", metric, "mean"]) == pytest.approx(np.mean(values), abs=5e-4)


def test_results_table_equals_summary_means_and_intervals(built):
    _, _, cells = built
    rows = summary_rows()
    checked = 0
    for variant in MIOU:
        fraction = "all" if variant == "full" else "0.1"
        for metric in ("miou", "mean_f1", "oa", "dice", "proportion_mae"):
            values = [
                r[metric]
                for r in rows
                if (r["variant"], r["weak_kind"]) == _identity(variant) and r["point"] == "default"
            ]
            low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
            assert float(cells.values[variant, fraction, metric, "mean"]) == pytest.approx(np.mean(values), abs=5e-4)
            text = cells.values[variant, fraction, metric, "ci"]
            assert [float(v) for v in re.findall(r"-?\d+\.\d+", text)] == [
                pytest.approx(low, abs=5e-4),
                pytest.approx(high, abs=5e-4),
            ]
            checked += 1
    assert checked == 5 * len(MIOU)


def _identity(arm: str) -> tuple[str, str]:
    run = arm_run(arm, 0)
    return run.variant, run.weak_kind


def test_the_majority_class_row_scores_the_constant_prediction_on_the_scored_set(built):
    inputs, _, cells = built
    masks = np.load(inputs.masks)
    scored = masks[4:6]  # the val tiles
    counts = np.bincount(scored[scored != 255].ravel(), minlength=len(CLASSES))
    # Class 2 is the strong set's majority: IoU_2 = n_2 / N, the other present classes 0.
    present = counts > 0
    expected = counts[2] / counts.sum() / present.sum()
    assert float(cells.values["majority", None, "miou", "mean"]) == pytest.approx(expected, abs=5e-4)
    assert float(cells.values["majority", None, "oa", "mean"]) == pytest.approx(counts[2] / counts.sum(), abs=5e-4)


#: The report's family at 10%: every arm vs strong_only, each weak arm vs the compute-matched
#: headline reference, and weak_finetuned vs its shuffled-labels control (duplicates counted once).
FAMILY = [
    *((arm, "strong_only") for arm in MIOU if arm != "strong_only"),
    (PRETRAINED, "strong_only_long"),
    ("joint[proportions]", "matched_joint"),
    (PRETRAINED, "shuffled_labels[proportions]"),
]


def _holm_by_hand(p_values: list[float]) -> list[float]:
    """Holm 1979 step-down, written out: sorted ascending, p_(i) -> max_{j<=i} min(1, (m - j + 1) p_(j))."""
    order = np.argsort(p_values)
    adjusted, running = np.empty(len(p_values)), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return list(adjusted)


def test_one_family_gives_each_comparison_one_holm_p_in_table_controls_and_answer(built):
    _, page, cells = built
    p_values = [stats.ttest_rel(MIOU[a], MIOU[b]).pvalue for a, b in FAMILY]
    holm = dict(zip(FAMILY, _holm_by_hand(p_values), strict=True))
    assert len(FAMILY) == 10 and "10 comparisons at 10%" in page
    for (arm, reference), p_holm in holm.items():
        if reference == "strong_only":
            assert float(cells.values[arm, "0.1", None, "holm"]) == pytest.approx(p_holm, abs=5e-4)
        if arm == PRETRAINED and reference != "strong_only":
            assert float(cells.values[arm, "0.1", None, "holm", reference]) == pytest.approx(p_holm, abs=5e-4)
    # the answer's comparison (against the compute-matched control) states the same Holm p as the controls table
    p_answer = holm[PRETRAINED, "strong_only_long"]
    text = html.unescape(page)
    assert f"Holm-adjusted over the report's 10 comparisons at this fraction: p = {p_answer:.3g}" in text
    assert float(cells.values[PRETRAINED, "0.1", None, "holm", "strong_only_long"]) == pytest.approx(p_answer, abs=5e-4)
    # a joint arm answers against its own compute-matched control, matched_joint, not pretraining's
    assert "joint[proportions] − matched_joint = " in text and "joint[proportions] − strong_only_long" not in text
    assert ("joint[proportions]", "0.1", None, "holm", "matched_joint") in cells.values


def test_power_is_stated_at_the_familys_level_with_the_range_of_seeds_needed(built):
    from weakseg.report.statistics import minimum_detectable_effect, sd_interval, seeds_needed

    _, page, cells = built
    base = np.array(MIOU["strong_only"])
    for arm in ("joint[proportions]", "weak_only[proportions]"):
        differences = np.array(MIOU[arm]) - base
        sd = float(differences.std(ddof=1))
        mde = minimum_detectable_effect(sd, 3, confidence=1 - 0.05 / 10)  # alpha / m, m = 10 comparisons
        assert mde > minimum_detectable_effect(sd, 3)
        assert float(cells.values[arm, "0.1", None, "mde"].lstrip("≥ ")) == pytest.approx(mde, abs=5e-4)
        low, high = sd_interval(sd, 3)
        needed = [seeds_needed(0.02, v, confidence=1 - 0.05 / 10) for v in (sd, low, high)]
        text = cells.values[arm, "0.1", None, "seeds"].replace("more than 1000", "inf")
        assert text == f"{needed[0]} ({needed[1]} to {needed[2]})"


def test_the_gap_closed_and_the_exact_sign_flip_p_of_three_seeds(built):
    import itertools

    from weakseg.report.statistics import fieller_interval

    _, page, cells = built
    base = np.array(MIOU["strong_only"])
    for arm in ("weak_finetuned[proportions]", "joint[proportions]"):
        differences = np.array(MIOU[arm]) - base
        ratio = fieller_interval(differences, np.array(MIOU["full"]) - base)
        assert float(cells.values[arm, "0.1", "miou", "gap"]) == pytest.approx(ratio.estimate, abs=5e-4)
        flipped = [abs(np.mean(np.multiply(s, differences))) for s in itertools.product((1, -1), repeat=3)]
        exact = np.mean([m >= abs(differences.mean()) - 1e-12 for m in flipped])
        assert float(cells.values[arm, "0.1", None, "signflip"]) == pytest.approx(exact, abs=5e-4)
    assert "cannot reach a p below 0.25" in page  # 2 / 2^3 with three seeds


def test_controls_compare_the_pretrained_arm_with_equal_compute_and_shuffled_labels(built):
    _, page, cells = built
    for control in ("strong_only_long", "shuffled_labels[proportions]"):
        difference = np.mean(np.array(MIOU[PRETRAINED]) - np.array(MIOU[control]))
        assert float(cells.values[PRETRAINED, "0.1", None, "diff", control]) == pytest.approx(difference, abs=5e-4)
    assert "what the labels' information gave" in page


def test_annotation_hours_count_pixel_and_weak_tiles_at_their_seconds(built):
    _, page, cells = built
    # At 10% (the fake pool's rank bound 0.8): 1 strong tile, 3 weak tiles; full pixel-labels all 4.
    assert float(cells.values["strong_only", "0.1", None, "hours"]) == pytest.approx(1 * 240 / 3600, abs=5e-3)
    assert float(cells.values[PRETRAINED, "0.1", None, "hours"]) == pytest.approx((240 + 3 * 60) / 3600, abs=5e-3)
    assert float(cells.values["full", "all", None, "hours"]) == pytest.approx(4 * 240 / 3600, abs=5e-3)
    assert "mIoU vs annotation hours" in page


def test_the_headline_names_the_realised_strong_share_and_the_variance_it_covers(built):
    inputs, page, _ = built
    # At 10% of the 8 tiles the strong set is tile 0 alone; its labelled pixels over those of all 8 tiles.
    masks = np.load(inputs.masks)
    pixels = 100 * (masks[0] != 255).sum() / (masks != 255).sum()
    assert f"10% of tiles pixel-labelled (realised: 12.5% of tiles, {pixels:.1f}% of labelled pixels)" in page
    assert "intervals cover the variance of training" in page and "not of which tiles were labelled" in page


def test_the_report_never_opens_a_weak_tiles_mask(built, tmp_path):
    """Scrambling the weak tiles' masks (rows 2, 3) after the tile stage leaves the page byte-identical."""
    inputs, page, _ = built
    masks = np.load(inputs.masks)
    masks[2:4] = np.random.default_rng(5).integers(0, len(CLASSES), masks[2:4].shape)
    scrambled = tmp_path / "masks.npy"
    np.save(scrambled, masks)
    out = tmp_path / "report.html"
    build_report(dataclasses.replace(inputs, masks=scrambled), out)
    assert out.read_text(encoding="utf-8") == page


def test_answer_sentence_follows_from_the_numbers(built):
    inputs, page, _ = built
    masks = np.load(inputs.masks)
    pixels = 100 * (masks[0] != 255).sum() / (masks != 255).sum()
    # against the compute-matched control: +0.037 [..], whose Holm p over the 10 comparisons is not below 0.05
    assert (
        "No difference detectable with 3 seeds after Holm's correction with 10% of tiles pixel-labelled (realised: "
        f"12.5% of tiles, {pixels:.1f}% of labelled pixels): weak_finetuned[proportions] − strong_only_long = "
        "+0.037 mIoU, unadjusted 95% CI"
    ) in html.unescape(page)
    assert "over 3 seeds" in page and "compared with <b>strong_only_long</b>, its compute-matched control" in page
    assert "joint training is compared with <b>matched_joint</b>, its compute-matched control" in page


def test_scored_on_val_with_best_epochs_says_it_is_optimistic(tmp_path):
    _, page, _ = render(tmp_path, selected="best")
    assert "optimistic" in page and "training.checkpoint: best" in page
    _, page, _ = render(tmp_path / "test", scored_set="test", selected="best")
    assert "optimistic" not in page and "Scores on the <b>test</b> tiles" in page


def test_grid_table_ranks_on_val_and_shows_a_heatmap(tmp_path):
    grid = (
        "training.lr~0.001,training.batch_size~8",
        "training.lr~0.001,training.batch_size~16",
        "training.lr~0.01,training.batch_size~8",
        "training.lr~0.01,training.batch_size~16",
    )
    _, page, cells = render(tmp_path, grid=grid)
    assert "Grid search" in page and "grid heatmap" in page
    best = "training.lr~0.01,training.batch_size~16"  # highest val mIoU by construction
    assert f"{best} (best)" in page
    scored = float(cells.values["strong_only", "0.1", "miou", "mean", best].rstrip(" †"))
    assert scored == pytest.approx(0.3 + 0.03 + 0.001, abs=5e-4)
    assert "ranked the grid points" in page  # scored on val: the best point's number is optimistic


def test_provenance_hash_and_benchmark_totals(built):
    _, page, _ = built
    assert hashlib.sha256(json.dumps(CONFIG, sort_keys=True).encode()).hexdigest()[:12] in page
    assert re.search(r'<td>train</td><td class="num">2</td><td class="num">3\.8</td>', page)  # 1.5 + 2.25 s
    assert re.search(r'<td>total</td><td class="num">3</td><td class="num">4\.2</td>', page)
    assert "tile_size: 8" in page  # the config as YAML


@pytest.mark.parametrize("field, index", [("confusions", 1), ("preview", None), ("benchmarks", 2), ("summary", None)])
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
    names = ("summary", "tiles", "images", "masks", "class_pixels", "splits", "weak_labels", "weak_summary", "preview")
    files = {name: getattr(inputs, name) for name in (*names, "template", "css")}
    files |= {name: list(getattr(inputs, name)) for name in ("histories", "confusions", "predictions", "benchmarks")}
    params = {"config": CONFIG, "dataset": "synthetic", "main_runs": list(inputs.main_runs)}
    args = [sys.executable, str(ROOT / "scripts/report.py"), *stage_call(params, files, {"report": out})]
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "git commit</td><td>unknown</td>" in out.read_text(encoding="utf-8")  # tmp_path is no git repo
    inputs.histories[0].unlink()
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and str(inputs.histories[0]) in result.stderr
    assert VARIANTS  # the table the summary's variants come from


def test_a_first_kind_without_a_label_gets_a_note_instead_of_a_chart(tmp_path):
    inputs = _fake_results(tmp_path)
    ids = [row.split(",")[0] for row in inputs.tiles.read_text().splitlines()[1:]]
    _write_csv(inputs.weak_labels, ["tile_id", "set"], [[t, ""] for t in ids])
    _write_csv(inputs.weak_summary, ["set", "class", "n_tiles", "mean", "std", "min", "max", "present"], [])
    config = {**CONFIG, "experiment": {**CONFIG["experiment"], "weak_kinds": ["unlabelled"]}}
    build_report(dataclasses.replace(inputs, config=config), tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "The unlabelled (pseudo-labels) kind gives weak tiles no label" in page


def test_runs_still_improving_are_flagged_and_an_unsettled_baseline_warns(built):
    _, page, cells = built
    # every fake history rises 0.1 per epoch over its 3 epochs: all runs still improve
    assert cells.values["strong_only", "0.1", None, "improving"] == "3 of 3 (0, 1, 2)"
    assert cells.values["full", "all", None, "improving"] == "3 of 3 (0, 1, 2)"
    assert "the comparisons are of models that had not converged" in html.unescape(page)
