"""The report's figures, each returned as a base64 PNG ``data:`` URI (the page embeds them)."""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from weakseg.io.errors import WeaksegError  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def array_uri(array: np.ndarray) -> str:
    """(H, W) or (H, W, 3) uint8 array -> PNG data URI."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return _uri(buffer.getvalue())


def png_uri(path: str | Path) -> str:
    """A PNG file -> data URI (bytes embedded as they are).

    Raises:
        WeaksegError: the file is unreadable or not a PNG.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise WeaksegError(f"{path}: cannot read image ({error})") from error
    if not data.startswith(PNG_SIGNATURE):
        raise WeaksegError(f"{path}: not a PNG file")
    return _uri(data)


def figure_uri(figure) -> str:
    """A matplotlib figure -> PNG data URI (100 dpi); the figure is closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return _uri(buffer.getvalue())


def grouped_bars(
    groups: list[str],
    series: dict[str, list[float]],
    ylabel: str,
    title: str,
    errors: dict[str, list[float]] | None = None,
) -> str:
    """Grouped bar chart, one group per entry of ``groups``, one bar per series (optional ± error bars)."""
    figure, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups)), 3.6))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        yerr = None if errors is None else np.nan_to_num(errors[name])
        ax.bar(
            np.arange(len(groups)) + (i - (len(series) - 1) / 2) * width,
            values,
            width,
            label=name,
            yerr=yerr,
            capsize=2,
        )
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return figure_uri(figure)


def box_plot(columns: list[np.ndarray], names: list[str], ylabel: str, title: str) -> str:
    """One box per column (e.g. the weak labels of one class over the weak tiles)."""
    figure, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(names)), 3.6))
    ax.boxplot(columns)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20, ha="right")
    ax.set(ylabel=ylabel, title=title)
    ax.grid(axis="y", alpha=0.3)
    return figure_uri(figure)


def curves(series: dict[str, dict[str, np.ndarray]], panels: tuple[tuple[str, str], ...]) -> str:
    """Line panels over epochs: ``series[name][column]`` (mean over seeds) with ``column + "_low/_high"`` bands."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.6), squeeze=False)
    for ax, (column, title) in zip(axes[0], panels, strict=False):
        for name, data in series.items():
            line = ax.plot(data["epoch"], data[column], marker=".", label=name)[0]
            if f"{column}_low" in data:
                ax.fill_between(
                    data["epoch"], data[f"{column}_low"], data[f"{column}_high"], alpha=0.15, color=line.get_color()
                )
        ax.set(xlabel="epoch", title=title)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    return figure_uri(figure)


def label_efficiency(fractions: list[float], series: dict[str, tuple[list, list, list]], upper: tuple | None) -> str:
    """MIoU vs strong fraction: one line per variant (``(means, lows, highs)``), interval bands, the upper bound."""
    figure, ax = plt.subplots(figsize=(6.5, 4))
    for name, (means, lows, highs) in series.items():
        line = ax.plot(fractions, means, marker="o", label=name)[0]
        ax.fill_between(fractions, lows, highs, alpha=0.15, color=line.get_color())
    if upper is not None and not math.isnan(upper[0]):
        ax.axhline(upper[0], color="black", linestyle="--", label="full (upper bound)")
        if not math.isnan(upper[1]):
            ax.axhspan(upper[1], upper[2], color="black", alpha=0.07)
    ax.set(xlabel="strong fraction (share of tiles with pixel labels)", ylabel="mIoU", title="Label efficiency")
    ax.set_xticks(fractions, [f"{100 * f:g}%" for f in fractions])
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return figure_uri(figure)


def annotation_efficiency(points: dict[str, tuple[list, list, list, list]]) -> str:
    """MIoU vs annotation hours: per arm ``(hours, means, lows, highs)``, one marker per strong fraction, 95% bars."""
    figure, ax = plt.subplots(figsize=(7, 4.2))
    for name, (hours, means, lows, highs) in points.items():
        order = np.argsort(hours)
        hours, means = np.asarray(hours)[order], np.asarray(means)[order]
        lows, highs = np.asarray(lows)[order], np.asarray(highs)[order]
        errors = np.vstack([means - lows, highs - means])
        ax.errorbar(hours, means, yerr=np.where(np.isnan(errors), 0, errors), marker="o", capsize=3, label=name)
    ax.set(xlabel="annotation time (hours)", ylabel="mIoU", title="mIoU per hour of annotation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", ncol=2)
    return figure_uri(figure)


def heatmap(
    values: np.ndarray, rows: list[str], columns: list[str], title: str, row_label: str, column_label: str
) -> str:
    """A 2-D grid of scores with each cell's value written in it (NaN cells blank)."""
    figure, ax = plt.subplots(figsize=(1.3 * len(columns) + 2.5, 0.6 * len(rows) + 2))
    image = ax.imshow(values, cmap="viridis")
    for (i, j), v in np.ndenumerate(values):
        if not math.isnan(v):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=8, color="white")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.set(title=title, xlabel=column_label, ylabel=row_label)
    figure.colorbar(image, ax=ax, shrink=0.8)
    return figure_uri(figure)


def confusion_matrices(matrices: dict[str, tuple[list[str], np.ndarray]]) -> str:
    """Row-normalised confusion matrices side by side (rows true class, columns predicted)."""
    figure, axes = plt.subplots(1, len(matrices), figsize=(4.6 * len(matrices), 4.4), squeeze=False)
    for ax, (title, (names, counts)) in zip(axes[0], matrices.items(), strict=False):
        totals = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, totals, out=np.full(counts.shape, np.nan), where=totals > 0)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(share):
            if not math.isnan(v) and len(names) <= 12:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.5 else "black")
        first = ax is axes[0][0]
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names if first else [], fontsize=8)
        ax.set(title=title, xlabel="predicted", ylabel="true" if first else "")
    return figure_uri(figure)
