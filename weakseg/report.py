"""The report stage: one self-contained HTML page (``results/report.html``) answering the question.

Every image is embedded as a base64 PNG ``data:`` URI and the CSS is inline, so the file can
be mailed or archived on its own; it holds no JavaScript and no network reference.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import importlib.metadata
import io
import json
import math
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402

from weakseg.datasets import get_dataset  # noqa: E402
from weakseg.errors import WeaksegError  # noqa: E402
from weakseg.labels import colorize  # noqa: E402
from weakseg.outputs import staged_outputs  # noqa: E402
from weakseg.tiling import read_tiles  # noqa: E402
from weakseg.weak_labels import read_weak_labels  # noqa: E402

QUESTION = (
    "Does pretraining on weak labels (class fractions per tile) help when only a small share "
    "of tiles have pixel labels?"
)
BASELINE = "strong_only"
#: (metrics.json key, label) of the rows of the metrics table.
METRICS = (("miou", "mIoU"), ("mean_f1", "mean F1"), ("oa", "OA"), ("fraction_mae", "fraction MAE"))
PACKAGES = ("numpy", "torch", "torchvision", "segmentation_models_pytorch", "albumentations",
            "snakemake", "tifffile", "Pillow", "matplotlib")
SETS = ("strong", "weak", "val")
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_miou")
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1150px;
margin:0 auto;padding:1.5em 2em 4em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
.question{font-size:1.15em;font-style:italic;color:#444}
.answer{background:#f3f7fb;border-left:4px solid #3b7dd8;padding:.7em 1em}
nav ol{columns:2;font-size:.95em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.compact{font-size:.8em}table.compact td,table.compact th{padding:.2em .35em}
.scroll{overflow-x:auto}
td.pos{color:#17692b}td.neg{color:#a11}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.8em;overflow-x:auto;font-size:.85em}
img.figure{max-width:100%;display:block;margin:.8em 0}
img.preview{max-width:100%;image-rendering:pixelated;display:block}
img.tile{width:128px;height:128px;image-rendering:pixelated;display:block}
.note{color:#555;font-size:.92em}
.swatch{display:inline-block;width:.9em;height:.9em;border:1px solid #666;margin:0 .3em 0 .6em;vertical-align:-.1em}
pre.config{columns:3;column-rule:1px solid #ddd}
table.facts td{text-align:left}
"""


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report reads; paths as passed by the ``report`` rule.

    ``variants`` names the models; ``histories``, ``metrics``, ``per_class``, ``confusions``
    and ``predictions`` hold one path per variant, in the same order.
    """

    config: dict
    dataset: str
    tiles: Path
    images: Path
    masks: Path
    splits: Path
    weak_labels: Path
    weak_summary: Path
    preview: Path
    variants: tuple[str, ...]
    histories: tuple[Path, ...]
    metrics: tuple[Path, ...]
    per_class: tuple[Path, ...]
    confusions: tuple[Path, ...]
    predictions: tuple[Path, ...]
    benchmarks: tuple[Path, ...] = ()


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
        WeaksegError: an input file or folder is missing (the message names it), per-variant
            lists differ in length from ``variants``, ``strong_only`` is not a variant, or a
            file lacks a column/key the report needs or does not parse.
    """
    _check_inputs(inputs)
    metrics = {v: _read_json(p) for v, p in zip(inputs.variants, inputs.metrics)}
    splits = _read_json(inputs.splits)
    sections = [
        ("provenance", "Provenance", _provenance(inputs, metrics)),
        ("dataset", "Dataset", _dataset_section(inputs, splits)),
        ("weak-labels", "Weak-label distribution", _weak_label_section(inputs)),
        ("augmentation", "Augmentation preview", _preview_section(inputs.preview)),
        ("training", "Training curves", _training_section(inputs, metrics)),
        ("metrics", "Metrics on the validation tiles", _metrics_section(inputs.variants, metrics, inputs.metrics)),
        ("per-class", "Per-class results", _per_class_section(inputs)),
        ("confusion", "Confusion matrices", _confusion_section(inputs)),
        ("gallery", "Prediction gallery", _gallery_section(inputs)),
    ]
    nav = "".join(f"<li><a href='#{key}'>{html.escape(title)}</a></li>" for key, title, _ in sections)
    body = "".join(f"<section id='{key}'><h2>{html.escape(title)}</h2>{content}</section>" for key, title, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>weakseg report</title>"
        f"<style>{CSS}</style></head><body><h1>weakseg report</h1><p class='question'>{html.escape(QUESTION)}</p>"
        f"<p class='answer'>{html.escape(answer_text(inputs.variants, metrics, splits))}</p>"
        f"<nav><ol>{nav}</ol></nav>{body}</body></html>\n"
    )


def answer_text(variants: tuple[str, ...], metrics: dict[str, dict], splits: dict) -> str:
    """One paragraph comparing each variant's mIoU with ``strong_only``, and a verdict.

    The verdict is about ``weak_finetuned`` if it is a variant, else the last variant.
    """
    counts = splits.get("counts", {})
    total = sum(counts.values()) or 1
    parts = [f"With {counts.get('strong', '?')} of {total} tiles pixel-labelled "
             f"({100 * counts.get('strong', 0) / total:.0f}%):"]
    base = _num(metrics[BASELINE].get("miou"))
    for variant in (v for v in variants if v != BASELINE):
        value = _num(metrics[variant].get("miou"))
        parts.append(f"{variant} mIoU {_fmt(value, 3)} vs {BASELINE} {_fmt(base, 3)}: {_diff(value - base)}.")
    main = "weak_finetuned" if "weak_finetuned" in variants else variants[-1]
    delta = _num(metrics[main].get("miou")) - base
    if math.isnan(delta):
        verdict = "The question cannot be answered: an mIoU is missing."
    elif round(delta, 3) > 0:
        verdict = f"Pretraining on weak labels helped ({main} beats {BASELINE})."
    elif round(delta, 3) < 0:
        verdict = f"Pretraining on weak labels did not help ({main} is worse than {BASELINE})."
    else:
        verdict = f"Pretraining on weak labels made no measurable difference ({main} ties {BASELINE})."
    return " ".join(parts + [verdict, "This is a single run; small differences may be noise."])


# ---------------------------------------------------------------- reading inputs


def _check_inputs(inputs: ReportInputs) -> None:
    per_variant = (inputs.histories, inputs.metrics, inputs.per_class, inputs.confusions, inputs.predictions)
    if any(len(paths) != len(inputs.variants) for paths in per_variant):
        raise WeaksegError(f"report: give one history, metrics, per-class, confusion and predictions path per variant "
                           f"({len(inputs.variants)} variants: {', '.join(inputs.variants)})")
    if BASELINE not in inputs.variants:
        raise WeaksegError(f"report: the variants must include the baseline {BASELINE!r}, got {list(inputs.variants)}")
    files = [inputs.tiles, inputs.images, inputs.masks, inputs.splits, inputs.weak_labels, inputs.weak_summary,
             inputs.preview, *inputs.histories, *inputs.metrics, *inputs.per_class, *inputs.confusions, *inputs.benchmarks]
    for path in files:
        if not Path(path).is_file():
            raise WeaksegError(f"{path}: input file not found")
    for path in inputs.predictions:
        if not Path(path).is_dir():
            raise WeaksegError(f"{path}: predictions folder not found")


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise WeaksegError(f"{path}: cannot read JSON ({error})") from error


def _read_csv(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise WeaksegError(f"{path}: missing column(s) {', '.join(missing)}")
        return list(reader)


def _num(value) -> float:
    """A metric value as float; ``None``, empty or unparsable text give NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _fmt(value: float, digits: int = 4) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def _diff(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.3f}"


def _benchmark_rule(path: Path) -> str:
    """``results/benchmarks/prepare/synthetic/scene000.tsv`` -> ``prepare``; ``.../split.tsv`` -> ``split``."""
    parts = Path(path).parts
    if "benchmarks" in parts:
        rest = parts[len(parts) - parts[::-1].index("benchmarks"):]
        return Path(rest[0]).stem if len(rest) == 1 else rest[0]
    return Path(path).stem


def _benchmark_seconds(path: Path) -> float:
    """Wall seconds (column ``s``) of a Snakemake benchmark TSV; the mean if it holds repeats."""
    with open(path, encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    if not rows or "s" not in rows[0] or len(rows) < 2:
        raise WeaksegError(f"{path}: not a Snakemake benchmark file (need a header with column 's' and a row)")
    column = rows[0].index("s")
    try:
        return float(np.mean([float(row[column]) for row in rows[1:]]))
    except (ValueError, IndexError) as error:
        raise WeaksegError(f"{path}: bad value in column 's' ({error})") from error


# ---------------------------------------------------------------- html and image helpers


def _td(text: str, cls: str = "", **attrs: str) -> str:
    extra = "".join(f" {k.replace('_', '-')}='{html.escape(v)}'" for k, v in attrs.items())
    cls_attr = f" class='{cls}'" if cls else ""
    return f"<td{cls_attr}{extra}>{html.escape(text)}</td>"


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table; a cell that is not already ``<td ...>`` markup is escaped, numbers right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    cells = lambda row: "".join(c if c.startswith("<td") else _td(c, "num" if _is_number(c) else "") for c in row)  # noqa: E731
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{''.join(f'<tr>{cells(r)}</tr>' for r in rows)}</tbody></table>"


def _is_number(text: str) -> bool:
    return not math.isnan(_num(text.rstrip("%"))) or text == "n/a"


def _img(uri: str, alt: str, cls: str) -> str:
    return f"<img class='{cls}' alt='{html.escape(alt)}' src='{uri}'>"


def _array_uri(array: np.ndarray) -> str:
    """(H, W) or (H, W, 3) uint8 array -> PNG data URI."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _png_uri(path: Path) -> str:
    """A PNG file -> data URI (bytes embedded as they are). Raises WeaksegError if not a PNG."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise WeaksegError(f"{path}: cannot read image ({error})") from error
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise WeaksegError(f"{path}: not a PNG file")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figure_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _grouped_bars(groups: list[str], series: dict[str, list[float]], ylabel: str, title: str) -> str:
    """Grouped bar chart: one group per entry of ``groups``, one bar per series; NaN bars are left out."""
    figure, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups)), 3.6))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(np.arange(len(groups)) + (i - (len(series) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return _img(_figure_uri(figure), title, "figure")


# ---------------------------------------------------------------- sections


def _provenance(inputs: ReportInputs, metrics: dict[str, dict]) -> str:
    config_hash = hashlib.sha256(json.dumps(inputs.config, sort_keys=True).encode()).hexdigest()[:12]
    devices = sorted({str(m.get("device", "unknown")) for m in metrics.values()})
    facts = [["git commit", _git_commit()], ["config hash (sha256, first 12)", config_hash],
             ["Python", sys.version.split()[0]], ["platform", platform.platform()], ["device", ", ".join(devices)]]
    facts += [[f"package {name}", _package_version(name)] for name in PACKAGES]
    timing: dict[str, list[float]] = {}
    for path in inputs.benchmarks:
        timing.setdefault(_benchmark_rule(path), []).append(_benchmark_seconds(path))
    rows = [[rule, str(len(s)), f"{sum(s):.1f}", _hms(sum(s))] for rule, s in sorted(timing.items())]
    total = sum(sum(s) for s in timing.values())
    rows.append(["total", str(sum(len(s) for s in timing.values())), f"{total:.1f}", _hms(total)])
    config_yaml = yaml.safe_dump(inputs.config, sort_keys=False, default_flow_style=False)
    return (_table(["item", "value"], facts, "facts") + "<h3>Wall time per rule (Snakemake benchmarks)</h3>"
            + _table(["rule", "jobs", "seconds", "h:m:s"], rows)
            + "<p class='note'>The report rule itself is not included.</p>"
            + f"<h3>Configuration</h3><pre class='config'>{html.escape(config_yaml)}</pre>")


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        status = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    dirty = " (uncommitted changes)" if status.returncode == 0 and status.stdout.strip() else ""
    return head.stdout.strip() + dirty


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _dataset_section(inputs: ReportInputs, splits: dict) -> str:
    adapter = get_dataset(inputs.dataset)
    tiles = read_tiles(inputs.tiles)
    masks = np.load(inputs.masks, mmap_mode="r")
    images = np.load(inputs.images, mmap_mode="r")
    if len(masks) != len(tiles) or len(images) != len(tiles):
        raise WeaksegError(f"{inputs.tiles}: {len(tiles)} rows, but {inputs.images} has {len(images)} "
                           f"and {inputs.masks} {len(masks)} tiles")
    row_of = {t.tile_id: i for i, t in enumerate(tiles)}
    sets = splits.get("sets", {})
    facts = [["dataset", inputs.dataset], ["scenes", str(len({t.scene for t in tiles}))], ["tiles", str(len(tiles))],
             ["tile size", f"{images.shape[1]} x {images.shape[2]} px, {images.shape[3]} bands"]]
    facts += [[f"tiles in set {name}", str(len(sets.get(name, [])))] for name in SETS]
    facts.append(["tiles dropped for overlap between sets", str(splits.get("dropped_overlap", 0))])
    shares = {}
    for name in SETS:
        unknown = [t for t in sets.get(name, []) if t not in row_of]
        if unknown:
            raise WeaksegError(f"{inputs.splits}: set {name} has tile ids not in {inputs.tiles}, e.g. {unknown[0]}")
        counts = _pixel_counts(masks, sorted(row_of[t] for t in sets.get(name, [])), adapter.n_classes)
        shares[name] = counts / counts.sum() if counts.sum() else np.full(adapter.n_classes, np.nan)
    rows = [[c] + [_fmt(100 * shares[s][k], 1) for s in SETS] for k, c in enumerate(adapter.class_names)]
    chart = _grouped_bars(list(adapter.class_names), {s: list(100 * shares[s]) for s in SETS},
                          "% of labelled pixels", "Class pixel distribution per set")
    return (_table(["item", "value"], facts, "facts") + "<h3>Class pixel distribution (% of labelled pixels)</h3>"
            + _table(["class", *SETS], rows) + chart)


def _pixel_counts(masks: np.ndarray, rows: list[int], n_classes: int, chunk: int = 256) -> np.ndarray:
    """(K,) int64 labelled-pixel count per class over ``masks[rows]``; 255 (ignore) not counted."""
    counts = np.zeros(n_classes + 1, dtype=np.int64)
    for start in range(0, len(rows), chunk):
        block = np.asarray(masks[rows[start : start + chunk]])
        counts += np.bincount(np.minimum(block, n_classes).ravel(), minlength=n_classes + 1)
    return counts[:n_classes]


def _weak_label_section(inputs: ReportInputs) -> str:
    _, sets, fractions, class_names = read_weak_labels(inputs.weak_labels)
    weak = fractions[np.array(sets, dtype=str) == "weak"]
    if len(weak):
        figure, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(class_names)), 3.6))
        ax.boxplot([weak[:, k] for k in range(len(class_names))])
        ax.set_xticks(range(1, len(class_names) + 1), class_names, rotation=20, ha="right")
        ax.set(ylabel="fraction of labelled pixels", title=f"Class fractions of the {len(weak)} weak-set tiles")
        ax.grid(axis="y", alpha=0.3)
        chart = _img(_figure_uri(figure), "weak-label box plot", "figure")
    else:
        chart = "<p class='note'>The weak set is empty.</p>"
    summary = _read_csv(inputs.weak_summary, ("set", "class", "n_tiles", "mean", "std", "min", "max", "present"))
    return (chart + "<p class='note'>These per-tile class fractions are the only supervision of the weak set. "
            "Per set: mean &plusmn; standard deviation, range, and the share of tiles where the class is present.</p>"
            + _summary_table(summary))


def _summary_table(summary: list[dict]) -> str:
    """Rows of ``summary.csv`` pivoted: one row per class, three columns per set."""
    sets = list(dict.fromkeys(r["set"] for r in summary))
    classes = list(dict.fromkeys(r["class"] for r in summary))
    by_key = {(r["set"], r["class"]): r for r in summary}
    n_tiles = {r["set"]: r["n_tiles"] for r in summary}
    top = "".join(f"<th colspan='3'>{html.escape(s)} ({html.escape(n_tiles[s])} tiles)</th>" for s in sets)
    sub = "<th>mean &plusmn; std</th><th>range</th><th>present</th>" * len(sets)
    rows = []
    for c in classes:
        cells = []
        for s in sets:
            r = {k: _num(v) for k, v in by_key.get((s, c), {}).items()}
            cells += [f"{_fmt(r.get('mean', math.nan), 3)} &plusmn; {_fmt(r.get('std', math.nan), 3)}",
                      f"{_fmt(r.get('min', math.nan), 2)}&ndash;{_fmt(r.get('max', math.nan), 2)}",
                      f"{_fmt(100 * r.get('present', math.nan), 0)}%"]
        rows.append(f"<tr><td>{html.escape(c)}</td>" + "".join(f"<td class='num'>{x}</td>" for x in cells) + "</tr>")
    return (f"<div class='scroll'><table class='compact'><thead><tr><th rowspan='2'>class</th>{top}</tr><tr>{sub}</tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table></div>")


def _preview_section(path: Path) -> str:
    uri = _png_uri(path)
    with Image.open(path) as image:
        width = min(2 * image.width, 1000)
    return (f"<img class='preview' style='width:{width}px' alt='augmentation preview' src='{uri}'>"
            "<p class='note'>Each row: a strong-set tile, its mask, one draw of the strong and of the weak pipeline.</p>")


def _training_section(inputs: ReportInputs, metrics: dict[str, dict]) -> str:
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for variant, path in zip(inputs.variants, inputs.histories):
        rows = _read_csv(path, HISTORY_COLUMNS)
        history = {c: np.array([_num(r[c]) for r in rows]) for c in HISTORY_COLUMNS}
        for ax, column in zip(axes, HISTORY_COLUMNS[1:]):
            line = ax.plot(history["epoch"], history[column], marker=".", label=variant)[0]
            best = metrics[variant].get("best_epoch")
            if column == "val_miou" and best is not None and best in history["epoch"]:
                ax.plot(best, history[column][list(history["epoch"]).index(best)], "*", ms=12, color=line.get_color())
    for ax, title in zip(axes, ("train loss", "val loss", "val mIoU")):
        ax.set(xlabel="epoch", title=title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return (_img(_figure_uri(figure), "training curves", "figure")
            + "<p class='note'>Stars mark the best epoch (the checkpoint evaluated). Training losses of different "
            "variants may be different losses (pixel cross-entropy vs. fraction loss) and need not be comparable.</p>")


def _metrics_section(variants: tuple[str, ...], metrics: dict[str, dict], paths: tuple[Path, ...]) -> str:
    others = [v for v in variants if v != BASELINE]
    for (variant, data), path in zip(metrics.items(), paths):
        missing = [key for key, _ in METRICS if key not in data]
        if missing:
            raise WeaksegError(f"{path}: missing key(s) {', '.join(missing)}")
    rows = []
    for key, label in METRICS:
        base = _num(metrics[BASELINE][key])
        row = [label] + [_td(_fmt(_num(metrics[v][key])), "num", data_variant=v, data_metric=key) for v in variants]
        for v in others:
            delta = _num(metrics[v][key]) - base
            sign = "" if math.isnan(delta) or round(delta, 3) == 0 else ("pos" if delta > 0 else "neg")
            if key == "fraction_mae":  # lower is better
                sign = {"pos": "neg", "neg": "pos"}.get(sign, "")
            row.append(_td(_diff(delta), f"num diff {sign}".strip(), data_variant=v, data_metric=key, data_diff_to=BASELINE))
        rows.append(row)
    header = ["metric", *variants, *(f"{v} − {BASELINE}" for v in others)]
    policies = sorted({f"{m.get('absent_class_policy', 'not stated')}" for m in metrics.values()})
    absent = sorted({c for m in metrics.values() for c in m.get("absent_classes", [])})
    return (_table(header, rows) + "<p class='note'>mIoU, mean F1: means over classes; OA: overall pixel accuracy; "
            "fraction MAE: mean absolute error of predicted vs. true class fractions per tile (lower is better). "
            f"Green: better than {BASELINE}, red: worse.</p>"
            f"<p class='note'>Absent classes: {html.escape('; '.join(policies))}"
            f"{html.escape(' (absent here: ' + ', '.join(absent) + ')') if absent else ''}</p>")


def _per_class_section(inputs: ReportInputs) -> str:
    columns = ("class", "iou", "precision", "recall", "f1", "support")
    tables = {v: {r["class"]: r for r in _read_csv(p, columns)} for v, p in zip(inputs.variants, inputs.per_class)}
    classes = list(tables[inputs.variants[0]])
    value = lambda v, c, col: _num(tables[v].get(c, {}).get(col))  # noqa: E731
    chart = _grouped_bars(classes, {v: [value(v, c, "iou") for c in classes] for v in inputs.variants}, "IoU", "IoU per class")
    rows = [[c, tables[inputs.variants[0]][c]["support"]] + [_fmt(value(v, c, m), 3) for m in ("iou", "f1") for v in inputs.variants]
            for c in classes]
    header = ["class", "support (px)"] + [f"{m} {v}" for m in ("IoU", "F1") for v in inputs.variants]
    return chart + _table(header, rows)


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


def _confusion_section(inputs: ReportInputs) -> str:
    figure, axes = plt.subplots(1, len(inputs.variants), figsize=(4.6 * len(inputs.variants), 4.4), squeeze=False)
    for ax, variant, path in zip(axes[0], inputs.variants, inputs.confusions):
        names, counts = _read_confusion(path)
        totals = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, totals, out=np.full(counts.shape, np.nan), where=totals > 0)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(share):
            if not math.isnan(v) and len(names) <= 12:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.5 else "black")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names if ax is axes[0][0] else [], fontsize=8)
        ax.set(title=variant, xlabel="predicted", ylabel="true" if ax is axes[0][0] else "")
    return (_img(_figure_uri(figure), "confusion matrices", "figure")
            + "<p class='note'>Rows are normalised: each row shows where the pixels of one true class went; an empty row is a class absent from the ground truth.</p>")


def _gallery_section(inputs: ReportInputs) -> str:
    palette = get_dataset(inputs.dataset).palette_array
    row_of = {t.tile_id: i for i, t in enumerate(read_tiles(inputs.tiles))}
    images, masks = np.load(inputs.images, mmap_mode="r"), np.load(inputs.masks, mmap_mode="r")
    tile_ids = sorted(p.stem for p in Path(inputs.predictions[0]).glob("*.png"))
    rows = []
    for tile in tile_ids:
        if tile not in row_of:
            raise WeaksegError(f"{inputs.predictions[0]}/{tile}.png: tile {tile} is not in {inputs.tiles}")
        image = np.asarray(images[row_of[tile]])
        rgb = image[..., :3] if image.shape[2] >= 3 else np.repeat(image[..., :1], 3, axis=2)
        cells = [_array_uri(rgb), _array_uri(colorize(np.asarray(masks[row_of[tile]]), palette))]
        for folder in inputs.predictions:
            path = Path(folder) / f"{tile}.png"
            if not path.is_file():
                raise WeaksegError(f"{path}: prediction not found (it exists for {inputs.variants[0]})")
            cells.append(_png_uri(path))
        rows.append([f"<td>{html.escape(tile)}</td>"] + [f"<td>{_img(uri, tile, 'tile')}</td>" for uri in cells])
    legend = " ".join(f"<span class='swatch' style='background:rgb{tuple(int(v) for v in palette[k])}'></span>"
                      f"{html.escape(name)}" for k, name in enumerate(get_dataset(inputs.dataset).class_names))
    note = "<p class='note'>Image shows the first three bands as RGB. Classes: " + legend + " <span class='swatch' style='background:#000'></span>no label</p>"
    if not rows:
        return note + "<p class='note'>No predictions were saved.</p>"
    return note + _table(["tile", "image", "ground truth", *inputs.variants], rows)
