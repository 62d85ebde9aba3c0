"""The report stage: one self-contained HTML page (``results/report.html``) answering the question.

Python computes the numbers (:mod:`weakseg.report.results`, from ``summary.csv``) and the figures
(:mod:`weakseg.report.figures`); the Jinja2 template ``report/templates/report.html.j2`` lays them
out, with ``report.css`` inlined. Every image is a base64 PNG ``data:`` URI, so the file can
be mailed or archived on its own; it holds no JavaScript and no network reference.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import jinja2
import numpy as np

from weakseg.datasets import get_dataset
from weakseg.design.experiment import ALL_TILES, BASELINE, UPPER_BOUND, VARIANTS, Run
from weakseg.formats.protocol import protocol_card
from weakseg.formats.summary import WITHOUT_COLUMNS, read_summary
from weakseg.formats.tiles import read_tiles
from weakseg.io.errors import WeaksegError
from weakseg.io.outputs import staged_outputs
from weakseg.report import comparisons, convergence, figures, methods_table, results
from weakseg.report.data_sections import dataset_context, design_context, read_class_pixels, weak_label_context
from weakseg.report.inputs import ReportInputs, read_csv
from weakseg.report.provenance import provenance
from weakseg.report.run_sections import confusion_context, curves_context, gallery_context
from weakseg.weak import get_weak_kind

QUESTION = (
    "Do weak labels help when only a small share of tiles have pixel labels, which kind of weak label, used by "
    "which method, helps most, and how much per hour of annotation?"
)


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
    class_pixels = read_class_pixels(inputs, len(tiles), adapter.n_classes)
    design = design_context(inputs, adapter, rows, tiles, class_pixels)
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
        "methods": _methods_context(inputs, rows, family, design["set_sizes"]),
        "grid": _grid_context(rows),
        "provenance": provenance(inputs.config, inputs.benchmarks),
        "dataset": dataset_context(inputs, adapter, tiles, class_pixels),
        "weak_labels": weak_label_context(inputs),
        "preview": figures.png_uri(inputs.preview),
        "curves": curves_context(inputs, runs),
        "convergence": convergence.still_improving(
            runs, [read_csv(path, ("epoch", "val_miou")) for path in inputs.histories]
        ),
        "convergence_tolerance": convergence.TOLERANCE,
        "confusion": confusion_context(inputs, runs),
        "gallery": gallery_context(inputs, runs, adapter),
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
        *inputs.audits,
        *inputs.audit_previews,
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
        "headline": {f: comparisons.headlines(rows, f) for f in fractions},
        "per_class": {f: results.per_class_table(rows, f, class_names) for f in fractions},
        "per_class_chart": _per_class_chart(rows, fractions[0] if fractions else ALL_TILES, class_names),
        "unlearned": results.unlearned_classes(rows, list(class_names)),
        **_learned_context(rows, list(class_names)),
        "n_classes": len(class_names),
        "efficiency": _efficiency_chart(rows, fractions),
        "fractions": fractions,
        "seeds": sorted({r["seed"] for r in rows}),
        "baseline": BASELINE,
        "upper_bound": UPPER_BOUND,
    }


def _learned_context(rows: list[dict], class_names: list[str]) -> dict:
    """MIoU over the classes the upper bound learns, beside the full mean, when it leaves some class out."""
    classes = results.upper_bound_classes(rows, class_names)
    if not classes or len(classes) == len(class_names):
        return {"learned": None}
    table = results.score_table(results.with_learned_miou(rows, classes), [results.LEARNED_MIOU])
    return {"learned": {"classes": classes, "left_out": [c for c in class_names if c not in classes], "table": table}}


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


def _methods_context(inputs: ReportInputs, rows: list[dict], family: dict, set_sizes: dict) -> dict:
    """The methods x kinds table, the positive control's sentences, the controls' compute, the pseudo-mask previews."""
    hours = results.annotation_hours(rows, set_sizes, inputs.config["annotation"])
    table = methods_table.methods_table(family, rows, inputs.config, methods_table.read_audits(inputs.audits), hours)
    students = [(Run.parse(str(Path(p).parent)), p) for p in inputs.audit_previews]  # the folder names the run
    first_seed = min((run.seed for run, _ in students), default=None)
    previews = [(run.weak_kind, figures.png_uri(p)) for run, p in students if run.seed == first_seed]
    return {
        "table": table,
        "positive_control": methods_table.positive_control_sentences(table),
        "control_compute": methods_table.control_compute(inputs.config, rows),
        "previews": previews,
        "preview_seed": first_seed,
    }


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


# ---------------------------------------------------------------- per-run files
