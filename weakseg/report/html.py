"""The report stage: one self-contained HTML page (``results/report.html``) answering the question.

Python computes the numbers (:mod:`weakseg.report.results`, from ``summary.csv``) and the figures
(:mod:`weakseg.report.figures`); the Jinja2 template ``report/templates/report.html.j2`` lays them
out, with ``report.css`` inlined. Every image is a base64 PNG ``data:`` URI, so the file can
be mailed or archived on its own; it holds no JavaScript and no network reference.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from weakseg.data.band_statistics import resolve_normalization
from weakseg.datasets import get_dataset
from weakseg.design.experiment import ALL_TILES, BASELINE, SET_NAMES, UPPER_BOUND, VARIANTS, Run
from weakseg.formats.protocol import protocol_card
from weakseg.formats.splits import read_splits, sets_at_fraction, split_tile_ids, strong_share
from weakseg.formats.stats import read_statistics
from weakseg.formats.summary import WITHOUT_COLUMNS, read_summary
from weakseg.formats.tiles import read_tiles, rows_of
from weakseg.formats.weak_labels import SUMMARY_COLUMNS, read_weak_labels
from weakseg.io.errors import WeaksegError
from weakseg.io.imageio import display_rgb
from weakseg.io.labels import colorize
from weakseg.io.outputs import staged_outputs
from weakseg.report import comparisons, convergence, figures, results
from weakseg.report.provenance import provenance
from weakseg.weak import get_weak_kind

QUESTION = (
    "Does pretraining on weak labels help when only a small share of tiles have pixel labels, which kind of "
    "weak label helps most, and how much per hour of annotation?"
)
HISTORY_PANELS = (("train_loss", "train loss"), ("val_loss", "val loss"), ("val_miou", "val mIoU"))


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report reads; paths as passed by the ``report`` rule.

    ``main_runs`` are the run folders (``variant/weak-K/strong-F/seed-S/default``) of the runs at the
    configured hyperparameters; ``histories``, ``confusions`` and ``predictions`` hold one
    path per main run, in the same order.
    """

    config: dict
    dataset: str
    summary: Path
    tiles: Path
    images: Path
    masks: Path
    class_pixels: Path
    splits: Path
    weak_labels: Path
    weak_summary: Path
    preview: Path
    template: Path
    css: Path
    main_runs: tuple[str, ...]
    histories: tuple[Path, ...]
    confusions: tuple[Path, ...]
    predictions: tuple[Path, ...]
    benchmarks: tuple[Path, ...] = ()
    stats: Path | None = None


def build_report(inputs: ReportInputs, out: str | Path) -> None:
    """Render the report and write it to ``out`` (all or nothing, via ``staged_outputs``).

    Raises:
        WeaksegError: see :func:`render_report`.
    """
    page = render_report(inputs)
    with staged_outputs(out) as (tmp,):
        tmp.write_text(page, encoding="utf-8")


def render_report(inputs: ReportInputs) -> str:
    """The report as one HTML string (UTF-8 text, images as base64 PNG data URIs).

    Raises:
        WeaksegError: an input file or folder is missing (the message names it), per-run
            lists differ in length from ``main_runs``, ``summary.csv`` has no ``strong_only``
            run, or a file lacks a column/key the report needs or does not parse.
    """
    _check_inputs(inputs)
    rows = results.with_arms(read_summary(inputs.summary))
    if not any(r["variant"] == BASELINE for r in rows):
        raise WeaksegError(f"{inputs.summary}: no {BASELINE} run; the report compares every variant with it")
    adapter = get_dataset(inputs.dataset)
    runs = [_main_run(path) for path in inputs.main_runs]
    effect = float(inputs.config["experiment"]["effect_of_interest"])
    tiles = read_tiles(inputs.tiles)
    class_pixels = _class_pixels(inputs, len(tiles), adapter.n_classes)
    design = _design_context(inputs, adapter, rows, tiles, class_pixels)
    family = comparisons.family_comparisons(rows, effect=effect)
    context = {
        "question": QUESTION,
        "answer": comparisons.answer(family, rows, design["shares"], _kind_titles(rows)),
        "exact_test_note": comparisons.exact_test_note(family),
        "css": Path(inputs.css).read_text(encoding="utf-8"),
        "variants": {v.name: v.description for v in VARIANTS.values() if any(r["base"] == v.name for r in rows)},
        "kinds": {k: f"{get_weak_kind(k).title} ({get_weak_kind(k).citation})" for k in results.kinds_of_rows(rows)},
        "effect": effect,
        **design,
        **_selection_context(inputs.config, rows),
        **_results_context(rows, adapter.class_names, family),
        **_protocol_context(inputs.config, adapter, rows),
        "cost": _cost_context(rows, design["set_sizes"], inputs.config["annotation"]),
        "grid": _grid_context(rows),
        "provenance": provenance(inputs.config, inputs.benchmarks),
        "dataset": _dataset_context(inputs, adapter, tiles, class_pixels),
        "weak_labels": _weak_label_context(inputs),
        "preview": figures.png_uri(inputs.preview),
        "curves": _curves_context(inputs, runs),
        "convergence": convergence.still_improving(
            runs, [_read_csv(path, ("epoch", "val_miou")) for path in inputs.histories]
        ),
        "convergence_tolerance": convergence.TOLERANCE,
        "confusion": _confusion_context(inputs, runs),
        "gallery": _gallery_context(inputs, runs, adapter),
    }
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(inputs.template).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = _fmt
    environment.filters["signed"] = _signed
    environment.filters["percent"] = lambda f: "all" if f == ALL_TILES else f"{100 * float(f):g}%"
    return environment.get_template(Path(inputs.template).name).render(**context)


# ---------------------------------------------------------------- reading inputs


def _check_inputs(inputs: ReportInputs) -> None:
    per_run = (inputs.histories, inputs.confusions, inputs.predictions)
    if any(len(paths) != len(inputs.main_runs) for paths in per_run):
        raise WeaksegError(
            f"report: give one history, confusion and predictions path per main run ({len(inputs.main_runs)} runs)"
        )
    files = [
        inputs.summary,
        inputs.tiles,
        inputs.images,
        inputs.masks,
        inputs.class_pixels,
        inputs.splits,
        inputs.weak_labels,
        inputs.weak_summary,
        inputs.preview,
        inputs.template,
        inputs.css,
        *inputs.histories,
        *inputs.confusions,
        *inputs.benchmarks,
    ]
    for path in files:
        if not Path(path).is_file():
            raise WeaksegError(f"{path}: input file not found")
    for path in inputs.predictions:
        if not Path(path).is_dir():
            raise WeaksegError(f"{path}: predictions folder not found")


def _main_run(path: str) -> dict:
    """``strong_only/weak-none/strong-0.1/seed-0/default`` -> the run's :meth:`~weakseg.design.experiment.Run.as_dict`.

    ``variant`` is the run's arm (``variant[kind]`` for runs with weak labels), as the tables name it.
    """
    try:
        run = Run.parse(path)
    except WeaksegError as error:
        raise WeaksegError(f"report: {error}") from None
    return {**run.as_dict(), "variant": run.arm}


def _read_csv(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise WeaksegError(f"{path}: missing column(s) {', '.join(missing)}")
        return list(reader)


def _fmt(value, digits: int = 3) -> str:
    """A number with ``digits`` decimals; None or NaN give ``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _signed(value, digits: int = 3) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:+.{digits}f}"


# ---------------------------------------------------------------- the study


def _selection_context(config: dict, rows: list[dict]) -> dict:
    """Which set was scored, and which numbers were selected on that same set (optimistic)."""
    scored = sorted({r["set"] for r in rows})
    selected_epoch = any(r["selected"] == "best" for r in rows)
    has_grid = any(r["point"] != "default" for r in rows)
    return {
        "scored_set": ", ".join(scored),
        "selected_on_scored": "val" in scored and selected_epoch,
        "grid_on_scored": "val" in scored and has_grid,
        "checkpoint": config["training"]["checkpoint"],
        "resample_split": config["experiment"]["resample_split"],
        "scored_unit": (
            "scenes, whole and at their original size"
            if config.get("evaluation", {}).get("mode") == "scenes"
            else "tiles"
        ),
    }


def _results_context(rows: list[dict], class_names: list[str], family: dict) -> dict:
    columns = [key for key, _ in results.METRICS]
    fractions = results.fractions_of(rows)
    return {
        "metrics": results.METRICS,
        "scores": results.score_table(rows, columns),
        "differences": comparisons.differences(family, rows),
        "controls": comparisons.controls(family, rows),
        "family_sizes": {
            f: max((c.family for c in family.values() if c.strong_fraction == f), default=0) for f in fractions
        },
        "headline": {f: comparisons.headline_reference(rows, f) for f in fractions},
        "per_class": {f: results.per_class_table(rows, f, class_names) for f in fractions},
        "per_class_chart": _per_class_chart(rows, fractions[0] if fractions else ALL_TILES, class_names),
        "efficiency": _efficiency_chart(rows, fractions),
        "fractions": fractions,
        "seeds": sorted({r["seed"] for r in rows}),
        "baseline": BASELINE,
        "upper_bound": UPPER_BOUND,
    }


def _protocol_context(config: dict, adapter, rows: list[dict]) -> dict:
    """The protocol card (:func:`protocol_card`) and the scores without its classes, when the runs have them."""
    protocol = protocol_card(config, adapter)
    has_scores = protocol["also_scored_without"] and all(
        column in r and not math.isnan(r[column]) for r in rows for column in WITHOUT_COLUMNS
    )
    return {
        "protocol": protocol,
        "without": results.score_table(rows, list(WITHOUT_COLUMNS)) if has_scores else None,
        "without_metrics": results.WITHOUT_METRICS,
    }


def _kind_titles(rows: list[dict]) -> dict[str, str]:
    return {kind: get_weak_kind(kind).title for kind in results.kinds_of_rows(rows)}


def _design_context(inputs: ReportInputs, adapter, rows: list[dict], tiles: list, class_pixels: np.ndarray) -> dict:
    """What the split realised at each strong fraction, and the majority-class row (no training).

    Realised shares: strong tiles over the tiles the split divided (:func:`strong_share`, the
    denominator of the nominal fraction), and their labelled pixels over those of the split's
    tiles (:func:`split_tile_ids`). The majority class is the most frequent class of the strong
    set's labelled pixels (training data only), scored on the scored set's pixels. Both from the
    tile stage's per-tile class counts (``class_pixels``, (N, K)): no mask is opened.
    """
    row_of = rows_of(tiles)
    splits = json.loads(Path(inputs.splits).read_text())
    labelled = lambda ids: class_pixels[[row_of[t] for t in ids]].sum()  # noqa: E731
    split_pixels = max(labelled(split_tile_ids(splits)), 1)
    shares, set_sizes = {}, {}
    for fraction in [*results.fractions_of(rows), ALL_TILES]:
        try:
            sets = sets_at_fraction(splits, fraction)
        except WeaksegError:
            continue
        set_sizes[fraction] = {name: len(ids) for name, ids in sets.items()}
        if fraction != ALL_TILES:
            shares[fraction] = {
                "tiles": strong_share(splits, sets["strong"]),
                "pixels": labelled(sets["strong"]) / split_pixels,
            }
    reference = sets_at_fraction(splits, results.fractions_of(rows)[0]) if results.fractions_of(rows) else None
    majority = None
    if reference is not None:
        strong_counts = class_pixels[[row_of[t] for t in reference["strong"]]].sum(axis=0)
        scored_name = sorted({r["set"] for r in rows})[0]
        scored_counts = class_pixels[[row_of[t] for t in reference[scored_name]]].sum(axis=0)
        index = int(np.argmax(strong_counts))
        majority = {"class": adapter.class_names[index], **results.majority_scores(scored_counts, index)}
    return {"shares": shares, "set_sizes": set_sizes, "majority": majority}


def _cost_context(rows: list[dict], set_sizes: dict, seconds: dict) -> dict:
    table = results.annotation_hours(rows, set_sizes, seconds)
    points = defaultdict(lambda: ([], [], [], []))
    for row in table:
        for values, value in zip(
            points[row["variant"]], (row["hours"], row["miou"].mean, row["miou"].low, row["miou"].high), strict=True
        ):
            values.append(value)
    chart = figures.annotation_efficiency(dict(points)) if table else None
    return {"table": table, "chart": chart, "seconds": seconds}


def _per_class_chart(rows: list[dict], fraction: str, class_names: list[str]) -> str:
    table = results.per_class_table(rows, fraction, class_names)
    variants = [k for k in table[0] if k != "class"] if table else []
    series = {v: [entry[v].mean for entry in table] for v in variants}
    errors = {v: [entry[v].half_width for entry in table] for v in variants}
    return figures.grouped_bars(
        list(class_names),
        series,
        "IoU",
        f"IoU per class (mean ± 95% CI, {100 * float(fraction):g}% strong)"
        if fraction != ALL_TILES
        else "IoU per class",
        errors,
    )


def _efficiency_chart(rows: list[dict], fractions: list[str]) -> str | None:
    if len(fractions) < 2:
        return None
    series = {}
    for variant in results.arms_of(rows):
        intervals = [results.mean_interval(list(results.by_seed(rows, variant, f, "miou").values())) for f in fractions]
        if variant != UPPER_BOUND and any(i.n for i in intervals):
            series[variant] = ([i.mean for i in intervals], [i.low for i in intervals], [i.high for i in intervals])
    upper = results.mean_interval(list(results.by_seed(rows, UPPER_BOUND, ALL_TILES, "miou").values()))
    return figures.label_efficiency([float(f) for f in fractions], series, (upper.mean, upper.low, upper.high))


def _grid_context(rows: list[dict]) -> dict:
    table = results.grid_table(rows)
    charts = []
    for variant, fraction in dict.fromkeys((t["variant"], t["strong_fraction"]) for t in table):
        members = [t for t in table if (t["variant"], t["strong_fraction"]) == (variant, fraction)]
        keys, parsed = results.grid_axes([t["point"] for t in members])
        if len(keys) != 2:
            continue
        row_values = list(dict.fromkeys(parsed[t["point"]][keys[0]] for t in members))
        column_values = list(dict.fromkeys(parsed[t["point"]][keys[1]] for t in members))
        values = np.full((len(row_values), len(column_values)), np.nan)
        for t in members:
            p = parsed[t["point"]]
            values[row_values.index(p[keys[0]]), column_values.index(p[keys[1]])] = t["val"].mean
        title = f"{variant}, {fraction} strong: mean val mIoU"
        charts.append(figures.heatmap(values, row_values, column_values, title, keys[0], keys[1]))
    return {"table": table, "charts": charts}


# ---------------------------------------------------------------- provenance and data


def _dataset_context(inputs: ReportInputs, adapter, tiles: list, class_pixels: np.ndarray) -> dict:
    masks, images = np.load(inputs.masks, mmap_mode="r"), np.load(inputs.images, mmap_mode="r")
    if len(masks) != len(tiles) or len(images) != len(tiles):
        raise WeaksegError(
            f"{inputs.tiles}: {len(tiles)} rows, but {inputs.images} has {len(images)} "
            f"and {inputs.masks} {len(masks)} tiles"
        )
    row_of = rows_of(tiles)
    sets = read_splits(inputs.splits)
    names = [name for name in SET_NAMES if sets.get(name)]
    shares = {}
    for name in names:
        unknown = [t for t in sets[name] if t not in row_of]
        if unknown:
            raise WeaksegError(f"{inputs.splits}: set {name} has tile ids not in {inputs.tiles}, e.g. {unknown[0]}")
        counts = class_pixels[sorted(row_of[t] for t in sets[name])].sum(axis=0)
        shares[name] = counts / counts.sum() if counts.sum() else np.full(adapter.n_classes, np.nan)
    splits = json.loads(Path(inputs.splits).read_text())
    scenes = {t.scene for t in tiles}
    synthetic = sum(adapter.is_synthetic_scene(scene) for scene in scenes)
    facts = [
        ("dataset", inputs.dataset),
        ("scenes", len(scenes)),
        ("tiles", len(tiles)),
        ("tile size", f"{images.shape[1]} x {images.shape[2]} px, {images.shape[3]} bands"),
    ]
    if synthetic:
        facts.append(("synthetic demo scenes mixed in (dataset.mix_synthetic)", f"{synthetic} of {len(scenes)}"))
    frames = inputs.config.get("sequence", {}).get("length", 1)
    if frames > 1:
        facts.append(("frames per sample (sequence.length)", frames))
    if inputs.stats is not None:
        mean, std = read_statistics(inputs.stats)
        normalization = resolve_normalization(inputs.config["model"])
        facts += [
            ("band mean of the training tiles (DN)", ", ".join(f"{255 * m:.1f}" for m in mean)),
            ("band std of the training tiles (DN)", ", ".join(f"{255 * s:.1f}" for s in std)),
            ("input normalisation (model.normalization)", f"{normalization} statistics"),
        ]
    facts += [(f"tiles in set {name} (reference split)", len(sets[name])) for name in names]
    facts.append(("tiles in no set (overlap between sets)", splits.get("dropped_overlap", 0)))
    chart = figures.grouped_bars(
        list(adapter.class_names),
        {s: list(100 * shares[s]) for s in names},
        "% of labelled pixels",
        "Class pixel distribution per set",
    )
    table = [(c, [100 * shares[s][k] for s in names]) for k, c in enumerate(adapter.class_names)]
    return {"facts": facts, "sets": names, "table": table, "chart": chart}


def _class_pixels(inputs: ReportInputs, n_tiles: int, n_classes: int) -> np.ndarray:
    """(N, K) int64 labelled pixels per tile and class, as the tile stage counted them (no mask is opened).

    Raises:
        WeaksegError: the file does not match the tiles (naming it and the fix).
    """
    counts = np.load(inputs.class_pixels)
    if counts.shape != (n_tiles, n_classes):
        raise WeaksegError(
            f"{inputs.class_pixels}: shape {counts.shape}, expected ({n_tiles}, {n_classes}) for {inputs.tiles}; "
            "rerun the tile stage"
        )
    return counts


def _weak_label_context(inputs: ReportInputs) -> dict:
    """The weak labels of the reference split as their kind names them (the first of ``experiment.weak_kinds``)."""
    kind = get_weak_kind(inputs.config["experiment"]["weak_kinds"][0])
    _, sets, labels, columns = read_weak_labels(inputs.weak_labels)
    weak = labels[np.array(sets, dtype=str) == "weak"]
    chart = None
    if len(weak) and columns:  # a kind without a label (unlabelled) has nothing to draw
        chart = figures.box_plot(
            [weak[:, k] for k in range(len(columns))],
            columns,
            f"{kind.title} (per tile)",
            f"{kind.title.capitalize()} of the {len(weak)} weak-set tiles",
        )
    summary = _read_csv(inputs.weak_summary, SUMMARY_COLUMNS)
    set_names = list(dict.fromkeys(r["set"] for r in summary))
    by_key = {(r["set"], r["class"]): {k: results._num(v) for k, v in r.items()} for r in summary}
    table = [(c, [by_key.get((s, c), {}) for s in set_names]) for c in dict.fromkeys(r["class"] for r in summary)]
    n_tiles = {r["set"]: r["n_tiles"] for r in summary}
    return {"chart": chart, "sets": set_names, "n_tiles": n_tiles, "table": table, "title": kind.title}


# ---------------------------------------------------------------- per-run files


def _shown_fractions(runs: list[dict]) -> set[str]:
    """The fractions of the per-run figures: the smallest strong fraction, and ``all`` (``full``)."""
    fractions = sorted({r["strong_fraction"] for r in runs if r["strong_fraction"] != ALL_TILES}, key=float)
    return {fractions[0] if fractions else ALL_TILES, ALL_TILES}


def _first_runs(runs: list[dict]) -> list[int]:
    """Indices of the main runs of the first seed at the shown fractions (see :func:`_shown_fractions`)."""
    seed, wanted = min(r["seed"] for r in runs), _shown_fractions(runs)
    return [i for i, r in enumerate(runs) if r["seed"] == seed and r["strong_fraction"] in wanted]


def _curves_context(inputs: ReportInputs, runs: list[dict]) -> str:
    wanted = _shown_fractions(runs)
    per_variant: dict[str, dict[int, list[dict]]] = defaultdict(dict)
    for run, path in zip(runs, inputs.histories, strict=False):
        if run["strong_fraction"] in wanted:
            per_variant[run["variant"]][run["seed"]] = _read_csv(path, tuple(c for c, _ in HISTORY_PANELS) + ("epoch",))
    series = {v: results.mean_curves(h, tuple(c for c, _ in HISTORY_PANELS)) for v, h in per_variant.items()}
    return figures.curves(series, HISTORY_PANELS)


def _read_confusion(path: Path) -> tuple[list[str], np.ndarray]:
    """(class names, (K, K) int64 counts, rows = true class, columns = predicted)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    try:
        names, counts = rows[0][1:], np.array([[int(v) for v in row[1:]] for row in rows[1:]], dtype=np.int64)
    except (IndexError, ValueError) as error:
        raise WeaksegError(f"{path}: not a confusion matrix CSV ({error})") from error
    if counts.shape != (len(names), len(names)):
        raise WeaksegError(f"{path}: expected {len(names)} x {len(names)} counts, got shape {counts.shape}")
    return names, counts


def _confusion_context(inputs: ReportInputs, runs: list[dict]) -> str:
    """Confusion matrices summed over seeds, per variant, at the smallest strong fraction (and full)."""
    wanted = _shown_fractions(runs)
    summed: dict[str, tuple[list[str], np.ndarray]] = {}
    for run, path in zip(runs, inputs.confusions, strict=False):
        if run["strong_fraction"] in wanted:
            names, counts = _read_confusion(path)
            previous = summed.get(run["variant"], (names, 0))[1]
            summed[run["variant"]] = (names, previous + counts)
    return figures.confusion_matrices(summed)


def _gallery_context(inputs: ReportInputs, runs: list[dict], adapter) -> dict:
    palette = adapter.palette_array
    chosen = _first_runs(runs)
    row_of = rows_of(read_tiles(inputs.tiles))
    images, masks = np.load(inputs.images, mmap_mode="r"), np.load(inputs.masks, mmap_mode="r")
    first = Path(inputs.predictions[chosen[0]])
    rows = []
    for tile in sorted(p.stem for p in first.glob("*.png")):
        if tile not in row_of:
            raise WeaksegError(f"{first}/{tile}.png: tile {tile} is not in {inputs.tiles}")
        image = np.asarray(images[row_of[tile]])
        rgb = display_rgb(image, inputs.config.get("sequence", {}).get("length", 1))
        cells = [figures.array_uri(rgb), figures.array_uri(colorize(np.asarray(masks[row_of[tile]]), palette))]
        for index in chosen:
            path = Path(inputs.predictions[index]) / f"{tile}.png"
            if not path.is_file():
                raise WeaksegError(f"{path}: prediction not found (it exists for {inputs.main_runs[chosen[0]]})")
            cells.append(figures.png_uri(path))
        rows.append((tile, cells))
    legend = [(name, tuple(int(v) for v in palette[k])) for k, name in enumerate(adapter.class_names)]
    return {
        "columns": [runs[i]["variant"] for i in chosen],
        "seed": runs[chosen[0]]["seed"],
        "rows": rows,
        "legend": legend,
    }
