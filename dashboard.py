"""Browse finished weakseg runs: streamlit run dashboard.py (results folder: $WEAKSEG_RESULTS or results/).

Choose a run (variant, strong fraction, seed) and one of its gallery tiles: the input (every
frame of a sequence), the colourised ground truth next to the colourised prediction (pixels
without ground truth black) and the tile's IoU (Dice for binary tasks); the training curves
of the runs chosen; the summary table with intervals. Reads only the results folder.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd
import streamlit as st

from weakseg.report.dashboard import (
    MAKE_A_RUN,
    DamagedRun,
    finished_runs,
    gallery,
    interval_caption,
    read_history,
    read_metrics,
    summary_rows,
)

RESULTS = Path(os.environ.get("WEAKSEG_RESULTS", "results"))


def score(value) -> str:
    """A score with three decimals, or n/a when undefined."""
    return "n/a" if value is None else f"{value:.3f}"


st.set_page_config(page_title="weakseg results", layout="wide")
st.title("weakseg results")
skipped = []
runs = finished_runs(RESULTS, skipped)
if skipped:
    st.warning(f"{len(skipped)} run(s) skipped, their files are damaged or odd:\n\n" + "\n\n".join(skipped))
if not runs:
    st.info(f"No finished run in {RESULTS}/ yet. Make one with: `{MAKE_A_RUN}` (from the project root).")
    st.stop()

with st.sidebar:
    st.header("Run")
    variant = st.selectbox("variant", sorted({r.variant for r in runs}), key="variant")
    of_variant = [r for r in runs if r.variant == variant]
    fraction = st.selectbox("strong fraction", sorted({r.strong_fraction for r in of_variant}), key="strong_fraction")
    of_fraction = [r for r in of_variant if r.strong_fraction == fraction]
    seed = st.selectbox("seed", sorted({r.seed for r in of_fraction}), key="seed")
    of_seed = [r for r in of_fraction if r.seed == seed]
    point = st.selectbox("grid point", sorted({r.point for r in of_seed}), key="point")
run = next(r for r in of_seed if r.point == point)
metrics = read_metrics(run)
binary = len(metrics.get("class_names", [])) == 2
score_name = "Dice" if binary else "IoU"

st.subheader(f"Run {run.label}")
columns = st.columns(3)
columns[0].metric(f"mIoU on {metrics.get('set', '?')}", score(metrics["miou"]))
columns[1].metric("Dice" if binary else "mean F1", score(metrics.get("dice") if binary else metrics.get("mean_f1")))
columns[2].metric("OA", score(metrics["oa"]))

st.subheader("Image")
tiles = gallery(run)
if not tiles:
    st.warning(f"{run.eval_dir / 'predictions'} holds no gallery tile (evaluation.gallery_tiles: 0?)")
else:
    tile = st.selectbox(f"{metrics.get('set', 'scored')} tile", [t.tile_id for t in tiles], key="tile")
    chosen = next(t for t in tiles if t.tile_id == tile)
    count = len(chosen.frames)
    if count:
        st.image(
            [str(p) for p in chosen.frames],
            caption=[f"input t-{count - 1 - k}" if k < count - 1 else "input (annotated)" for k in range(count)],
            width=200,
            output_format="PNG",
        )
    left, right = st.columns(2)
    if chosen.truth is not None:
        left.image(str(chosen.truth), caption="ground truth (unlabelled black)", width="stretch", output_format="PNG")
    right.image(str(chosen.prediction), caption="prediction", width="stretch", output_format="PNG")
    st.metric(f"{score_name} of this tile", score(chosen.dice if binary else chosen.miou))

st.subheader("Training curves")
labels = {r.label: r for r in runs}
compared = st.multiselect("runs", list(labels), default=[run.label], key="compared")
curves = {label: pd.DataFrame(read_history(labels[label])).set_index("epoch") for label in compared}
if curves:
    loss, miou = st.columns(2)
    loss.caption("training and validation loss per epoch")
    losses = {
        f"{label} ({part})": frame[f"{part}_loss"] for label, frame in curves.items() for part in ("train", "val")
    }
    loss.line_chart(pd.DataFrame(losses))
    miou.caption("validation mIoU per epoch")
    miou.line_chart(pd.DataFrame({label: frame["val_miou"] for label, frame in curves.items()}))

st.subheader("Summary")
try:
    table = summary_rows(RESULTS)
except DamagedRun as damage:
    table = []
    st.warning(str(damage))
if table:
    st.dataframe(pd.DataFrame(table), hide_index=True)
    st.caption(interval_caption())
elif not (RESULTS / "summary.csv").is_file():
    st.info(f"{RESULTS}/summary.csv does not exist yet: `snakemake --cores 2 results/summary.csv` makes it.")
