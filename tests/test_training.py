"""Training-loop behaviour on tiny constructed data (CPU, seconds)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, model_spec, offline_files, run_files, training_files

from weakseg.design.experiment import VARIANTS
from weakseg.io.errors import WeaksegError
from weakseg.learn.inference import resolve_device
from weakseg.learn.models import build_model
from weakseg.learn.tile_data import TileDataset, TrainingData
from weakseg.learn.training import train
from weakseg.weak import WEAK_KINDS as WEAK_KIND_NAMES

CLASSES = ["a", "b", "c"]


@pytest.fixture
def tiny_tiles(tmp_path):
    """8 tiles of 32x32 px: class = which third of the tile, image bands encode it."""
    rng = np.random.default_rng(0)
    masks = np.zeros((8, 32, 32), dtype=np.uint8)
    masks[:, :, 11:22] = 1
    masks[:, :, 22:] = 2
    masks[:, :2] = 255
    images = (masks[..., None] * 80 + rng.integers(0, 20, (8, 32, 32, 3))).astype(np.uint8)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "masks.npy", masks)
    return tmp_path


class PoisonedTiles(TileDataset):
    """Tiles whose images turn NaN from ``poison_epoch`` on."""

    poison_epoch = 2

    def __getitem__(self, key):
        item = super().__getitem__(key)
        if key[0] >= self.poison_epoch:
            item["image"] = torch.full(item["image"].shape, float("nan"))  # models also take float pixels
        return item


def _settings(epochs: int, checkpoint: str = "best", mode: str = "strong") -> dict:
    return {
        "mode": mode,
        "model": {"arch": "FPN", "encoder": "resnet18", "encoder_weights": None},
        "training": {
            "epochs": epochs,
            "steps_per_epoch": 1,
            "batch_size": 4,
            "lr": 0.01,
            "weight_decay": 0.0,
            "loss": "cross_entropy",
            "weak_kind": "proportions",
            "weak_options": {"loss": "cross_entropy"},
            "joint_weight": 0.5,
            "seed": 0,
            "device": "cpu",
            "log_every_batches": 1,
            "checkpoint": checkpoint,
        },
        "init_from": None,
    }


def _data(folder, dataset_type=TileDataset) -> TrainingData:
    fractions = np.tile([0.3, 0.35, 0.35], (4, 1))
    train_set = dataset_type(folder / "images.npy", folder / "masks.npy", [0, 1, 2, 3])
    val_set = TileDataset(folder / "images.npy", folder / "masks.npy", [4, 5, 6, 7], weak_labels=fractions)
    return TrainingData(train_set, val_set, 3, CLASSES)


def test_checkpoint_best_publishes_the_best_validation_epoch_and_drops_the_resume_folder(tiny_tiles):
    out = tiny_tiles / "run"
    history = train(_data(tiny_tiles), _settings(2), run_files(out))
    assert [row["epoch"] for row in history] == [1, 2]
    record = torch.load(out / "model.pt", weights_only=False)
    best = max(history, key=lambda row: row["val_miou"])
    assert record["epoch"] == best["epoch"] and record["val_miou"] == pytest.approx(best["val_miou"])
    assert record["selected"] == "best" and record["best_epoch"] == best["epoch"] and record["last_epoch"] == 2
    last = torch.load(out / "last.pt", weights_only=False)
    assert last["epoch"] == 2 and set(last) >= {"model", "optimizer", "scheduler", "rng"}
    assert (out / "history.csv").read_text().startswith("epoch,train_loss,val_loss,val_miou,val_oa,lr,seconds,iou_a")
    assert not (out / "resume").exists()


def test_a_loss_turning_nan_stops_with_a_message_and_keeps_the_last_good_checkpoint(tiny_tiles):
    out = tiny_tiles / "run"
    with pytest.raises(WeaksegError, match=r"loss became nan at epoch 2, batch 1.*checkpoint .* is intact"):
        train(_data(tiny_tiles, PoisonedTiles), _settings(3), run_files(out))
    checkpoint = torch.load(out / "resume/checkpoint.pt", weights_only=False)
    assert checkpoint["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in checkpoint["model"].values() if v.is_floating_point())
    assert not (out / "model.pt").exists() and not (out / "history.csv").exists()


def test_cuda_asked_for_without_a_gpu_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(WeaksegError, match="training.device"):
        resolve_device("cuda")


def test_imagenet_weights_offline_give_a_clear_error():
    code = (
        "from weakseg.formats.model_record import ModelSpec; from weakseg.learn.models import build_model; "
        "build_model(ModelSpec('FPN', 'resnet18', 3, tuple('abcdef'), encoder_weights='imagenet'))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", f"from weakseg.ops.cli import run_main; run_main(lambda: exec({code!r}))"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "could not download ImageNet weights for encoder 'resnet18'" in result.stderr
    assert "model.encoder_weights: null" in result.stderr


def test_local_encoder_weights_are_loaded(tmp_path):
    source = build_model(model_spec("FPN", "resnet18", None, 3, 6))
    torch.save(source.net.encoder.state_dict(), tmp_path / "encoder.pth")
    loaded = build_model(model_spec("FPN", "resnet18", str(tmp_path / "encoder.pth"), 3, 6))
    for name, value in source.net.encoder.state_dict().items():
        assert torch.equal(value, loaded.net.encoder.state_dict()[name])
    with pytest.raises(WeaksegError, match="neither null, 'imagenet' nor an existing file"):
        build_model(model_spec("FPN", "resnet18", str(tmp_path / "missing.pth"), 3, 6))
    with pytest.raises(WeaksegError, match="does not fit encoder 'resnet34'"):
        build_model(model_spec("FPN", "resnet34", str(tmp_path / "encoder.pth"), 3, 6))


def test_offline_copies_join_the_training_set_with_their_source_tiles_weak_labels(tiny_tiles):
    import json

    import yaml

    from weakseg.data.augmentation import save_pipeline, weak_pipeline, write_offline_copies
    from weakseg.formats.weak_labels import write_weak_labels
    from weakseg.learn.inference import make_loader
    from weakseg.learn.tile_data import load_training_data
    from weakseg.weak.proportions import label_proportions as class_fractions

    tile_ids = [f"t{i}" for i in range(8)]
    (tiny_tiles / "tiles.csv").write_text(
        "tile_id,scene,y,x,labeled_fraction\n" + "".join(f"t{i},s,0,{32 * i},0.9\n" for i in range(8))
    )
    sets = {"strong": ["t0"], "weak": ["t1", "t2", "t3"], "val": ["t4", "t5"]}
    pool = {t: {"rank": 0.5 + i, "neighbour_rank": None} for i, t in enumerate(["t0", "t1", "t2", "t3"])}
    (tiny_tiles / "splits.json").write_text(json.dumps({"sets": sets, "pool": pool, "n_tiles": 8, "n_groups": 8}))
    masks = np.load(tiny_tiles / "masks.npy")
    masks[2, 2:, :] = 0  # tile t2 differs, so the copies' labels can be traced to their source
    np.save(tiny_tiles / "masks.npy", masks)
    fractions = class_fractions(masks, 3)
    set_of = {t: name for name, ids in sets.items() for t in ids}
    write_weak_labels(
        tiny_tiles / "weak.csv",
        tiny_tiles / "summary.csv",
        CLASSES,
        tile_ids,
        fractions,
        [set_of.get(t) for t in tile_ids],
    )
    settings = yaml.safe_load((REPO / "workflow_config.yaml").read_text())["augment"]
    pipeline = weak_pipeline(settings)
    save_pipeline(pipeline, tiny_tiles / "weak.yaml")
    images = np.load(tiny_tiles / "images.npy")
    written = write_offline_copies(
        images, masks, {"weak": [1, 2, 3]}, {"weak": pipeline}, tile_ids, 2, 0, offline_files(tiny_tiles / "offline")
    )
    assert written == 6

    # strong fraction 0.125 of 8 tiles: t0 strong (rank 0.5), t1-t3 weak
    data = load_training_data(
        VARIANTS["weak_only"],
        "0.125",
        training_files(tiny_tiles, tiny_tiles / "weak.csv"),
        class_names=CLASSES,
        seed=0,
    )
    assert len(data.train) == 3 + 6 and len(data.val) == 2
    copies = (tiny_tiles / "offline/copies.csv").read_text().splitlines()[1:]
    for position, line in enumerate(copies):
        source = tile_ids.index(line.split(",")[1])
        item = data.train[(1, 3 + position)]
        np.testing.assert_allclose(item["weak_label"].numpy(), fractions[source], atol=1e-6)
    loader = make_loader(data.train, 4, True, 0, torch.device("cpu"), 0)
    batches = list(loader)
    assert sum(len(b["image"]) for b in batches) == 9
    assert batches[0]["image"].shape[1:] == (3, 32, 32) and batches[0]["weak_label"].shape[1:] == (3,)
    assert "mask" not in batches[0]  # weak tiles come without their pixel labels


def test_checkpoint_last_publishes_the_final_epoch(tiny_tiles):
    out = tiny_tiles / "last"
    history = train(_data(tiny_tiles), _settings(3, "last"), run_files(out))
    record = torch.load(out / "model.pt", weights_only=False)
    final = torch.load(out / "last.pt", weights_only=False)["model"]
    assert record["epoch"] == 3 and record["selected"] == "last" and record["last_epoch"] == 3
    assert record["val_miou"] == pytest.approx(history[-1]["val_miou"])
    for name, value in record["state_dict"].items():
        assert torch.equal(value, final[name]), name


def _split_folder(folder, weak_masks_scrambled: bool, kind: str = "proportions", offline_copies: int = 0):
    """tiles.csv, splits.json (with pool ranks), weak labels of ``kind`` and pipelines for the 8 tiny tiles.

    t0, t1 strong at fraction 0.25; t2-t5 weak; t6, t7 val. The weak labels are computed from
    the real masks (as the weak_labels stage does); then, with ``weak_masks_scrambled``, the masks
    of the weak tiles are replaced by noise. ``offline_copies`` per pool tile and pipeline.
    """
    import json

    from weakseg.data.augmentation import save_pipeline, strong_pipeline, weak_pipeline, write_offline_copies
    from weakseg.formats.weak_labels import write_weak_labels
    from weakseg.weak import get_weak_kind

    tile_ids = [f"t{i}" for i in range(8)]
    (folder / "tiles.csv").write_text(
        "tile_id,scene,y,x,labeled_fraction\n" + "".join(f"t{i},s,0,{32 * i},0.9\n" for i in range(8))
    )
    masks = np.load(folder / "masks.npy")
    masks[3:5, 10:20] = 0  # weak tiles differ from each other
    weak_kind = get_weak_kind(kind)
    labels = weak_kind.label(masks, 3, _kind_options(kind), np.random.default_rng(0))
    if weak_kind.dense:  # the weak_masks stage: computed from the true masks, before they are scrambled
        rng = np.random.default_rng(0)
        np.save(
            folder / "weak_masks.npy", np.stack([weak_kind.label_mask(m, 3, _kind_options(kind), rng) for m in masks])
        )
    if weak_masks_scrambled:
        noise = np.random.default_rng(1).integers(0, 4, masks[2:6].shape)
        masks[2:6] = np.where(noise == 3, 255, noise)
    np.save(folder / "masks.npy", masks)
    pool = {t: {"rank": 0.5 + i, "neighbour_rank": None} for i, t in enumerate(tile_ids[:6])}
    sets = {"strong": tile_ids[:2], "weak": tile_ids[2:6], "val": tile_ids[6:]}
    (folder / "splits.json").write_text(json.dumps({"sets": sets, "pool": pool, "n_tiles": 8, "n_groups": 8}))
    set_of = {t: name for name, ids in sets.items() for t in ids}
    write_weak_labels(
        folder / "weak.csv",
        folder / "summary.csv",
        weak_kind.columns(CLASSES, _kind_options(kind)),
        tile_ids,
        labels,
        [set_of[t] for t in tile_ids],
    )
    settings = yaml.safe_load((REPO / "workflow_config.yaml").read_text())["augment"]
    pipelines = {"strong": strong_pipeline(settings), "weak": weak_pipeline(settings)}
    save_pipeline(pipelines["strong"], folder / "strong.yaml")
    save_pipeline(pipelines["weak"], folder / "weak.yaml")
    rows = {"strong": list(range(6)), "weak": list(range(6))} if offline_copies else {}
    write_offline_copies(
        np.load(folder / "images.npy"),
        masks,
        rows,
        pipelines,
        tile_ids,
        offline_copies,
        0,
        offline_files(folder / "offline"),
    )


def _kind_options(kind: str) -> dict:
    """The schema's default options of ``kind`` (``weak_labels.<kind>``), with class ``b`` as the object class."""
    from weakseg.ops.config import schema_defaults
    from weakseg.weak import get_weak_kind

    schema = yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text())
    options = schema_defaults(schema)["weak_labels"][kind]
    return get_weak_kind(kind).resolve_options(options, tuple(CLASSES), ("b",))


def _with_weak_masks(files):
    """``files`` with the folder's weak masks, when a dense kind wrote them."""
    import dataclasses

    weak_masks = files.splits.parent / "weak_masks.npy"
    return dataclasses.replace(files, weak_masks=weak_masks) if weak_masks.exists() else files


def _train_variant(folder, variant: str, fraction: str = "0.25", kind: str = "proportions", epochs: int = 2):
    from weakseg.learn.tile_data import load_training_data
    from weakseg.weak import get_weak_kind

    data = load_training_data(
        VARIANTS[variant],
        fraction,
        _with_weak_masks(training_files(folder, folder / "weak.csv" if VARIANTS[variant].weak_sets else None)),
        class_names=CLASSES,
        seed=0,
        weak_kind=get_weak_kind(kind),
    )
    settings = _settings(epochs, "last", VARIANTS[variant].mode)
    settings["training"].update(weak_kind=kind, weak_options=_kind_options(kind))
    history = train(data, settings, run_files(folder / variant))
    return history, torch.load(folder / variant / "model.pt", weights_only=False)["state_dict"]


#: Every kind in weak mode; in joint mode one kind of each label form (a row of values, points, a weak mask,
#: no label: the joint step reads weak tiles through the same loaders as weak mode); the shuffled control once.
KINDS_AND_VARIANTS = (
    [(kind, "weak_only") for kind in sorted(set(WEAK_KIND_NAMES) - {"unlabelled"})]
    + [(kind, "joint") for kind in ("proportions", "points", "scribbles", "unlabelled")]
    + [("proportions", "shuffled_weak_only")]
)


@pytest.mark.parametrize("kind, variant", KINDS_AND_VARIANTS)
def test_training_on_weak_labels_never_reads_the_masks_of_weak_tiles(tmp_path, kind, variant):
    """Scrambling the weak tiles' masks after the weak_labels stage leaves the weights bit-identical.

    With offline copies (kinds not tied to pixels), so the augment stage's copies are covered too.
    """
    from weakseg.weak import get_weak_kind

    copies = 0 if get_weak_kind(kind).spatial else 1
    runs = []
    for scrambled in (False, True):
        folder = tmp_path / f"scrambled-{scrambled}"
        folder.mkdir()
        rng = np.random.default_rng(0)
        masks = np.zeros((8, 32, 32), dtype=np.uint8)
        masks[:, :, 11:22], masks[:, :, 22:] = 1, 2
        images = (masks[..., None] * 80 + rng.integers(0, 20, (8, 32, 32, 3))).astype(np.uint8)
        np.save(folder / "images.npy", images)
        np.save(folder / "masks.npy", masks)
        _split_folder(folder, scrambled, kind, copies)
        runs.append(_train_variant(folder, variant, kind=kind, epochs=1))
    (history_a, weights_a), (history_b, weights_b) = runs
    assert [r["train_loss"] for r in history_a] == [r["train_loss"] for r in history_b]
    assert all(np.isfinite(r["train_loss"]) for r in history_a)
    for name, value in weights_a.items():
        assert torch.equal(value, weights_b[name]), name


def test_joint_and_full_runs_train_on_their_sets(tiny_tiles):
    _split_folder(tiny_tiles, False)
    history, _ = _train_variant(tiny_tiles, "joint")
    assert len(history) == 2 and all(np.isfinite(r["train_loss"]) for r in history)
    history, _ = _train_variant(tiny_tiles, "full", "all")
    assert len(history) == 2
    with pytest.raises(WeaksegError, match="joint mode needs"):
        train(_data(tiny_tiles), _settings(1, "last", "joint"), run_files(tiny_tiles / "bad"))


def test_weights_turning_infinite_are_never_checkpointed_as_good(tiny_tiles):
    settings = _settings(3, "last")
    settings["training"]["lr"] = float("inf")
    out = tiny_tiles / "run"
    with pytest.raises(
        WeaksegError, match=r"training diverged in epoch 1: the weights .* are not finite.*No checkpoint"
    ):
        train(_data(tiny_tiles), settings, run_files(out))
    assert not (out / "resume/checkpoint.pt").exists() and not (out / "model.pt").exists()


def test_an_empty_training_set_is_a_clear_error(tiny_tiles):
    data = _data(tiny_tiles)
    data.train = TileDataset(tiny_tiles / "images.npy", tiny_tiles / "masks.npy", [])
    with pytest.raises(WeaksegError, match="the training set of this run has no tiles"):
        train(data, _settings(1, "last"), run_files(tiny_tiles / "run"))


@pytest.mark.parametrize("n_tiles,batch_size", [(22, 21), (1, 2), (3, 2)], ids=["last-batch-of-one", "one-tile", "odd"])
def test_sets_that_would_leave_a_batch_of_one_train(tmp_path, n_tiles, batch_size):
    """BatchNorm needs two values per channel in training mode; 32 px tiles reach 1 x 1 in the encoder."""
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 3, (n_tiles + 2, 32, 32), dtype=np.uint8)
    np.save(tmp_path / "images.npy", rng.integers(0, 256, (n_tiles + 2, 32, 32, 3), dtype=np.uint8))
    np.save(tmp_path / "masks.npy", masks)
    train_set = TileDataset(tmp_path / "images.npy", tmp_path / "masks.npy", list(range(n_tiles)))
    val_set = TileDataset(
        tmp_path / "images.npy",
        tmp_path / "masks.npy",
        [n_tiles, n_tiles + 1],
        weak_labels=np.full((2, 3), 1 / 3),
    )
    settings = _settings(1, "last")
    settings["training"].update(batch_size=batch_size, steps_per_epoch=2)
    history = train(TrainingData(train_set, val_set, 3, CLASSES), settings, run_files(tmp_path / "run"))
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])


def test_three_band_encoder_weights_are_adapted_to_four_bands_as_smp_does(tmp_path):
    source = build_model(model_spec("FPN", "resnet18", None, 3, 6))
    torch.save(source.net.encoder.state_dict(), tmp_path / "encoder.pth")
    four = build_model(model_spec("FPN", "resnet18", str(tmp_path / "encoder.pth"), 4, 6))
    weight, original = four.net.encoder.conv1.weight, source.net.encoder.conv1.weight
    assert weight.shape == (64, 4, 7, 7)
    # smp's patch_first_conv: band i takes the weights of band i mod 3, all scaled by 3 / 4
    for band in range(4):
        assert torch.allclose(weight[:, band], original[:, band % 3] * 0.75)
    assert torch.equal(four.net.encoder.layer1[0].conv1.weight, source.net.encoder.layer1[0].conv1.weight)
    assert four(torch.zeros(2, 4, 64, 64)).shape == (2, 6, 64, 64)
    torch.save(four.net.encoder.state_dict(), tmp_path / "four.pth")  # 4-band weights load as they are
    again = build_model(model_spec("FPN", "resnet18", str(tmp_path / "four.pth"), 4, 6))
    assert torch.equal(again.net.encoder.conv1.weight, weight)


def test_the_model_normalises_uint8_pixels_as_numpy_does_value_for_value():
    """Normalisation moved from the loader (numpy) into the model: CPU results must not change."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (2, 4, 16, 16), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    bands = 4  # more bands than statistics: they repeat cyclically
    expected = (pixels.astype(np.float32) - np.resize(np.float32(mean) * 255, bands)[:, None, None]) / np.resize(
        np.float32(std) * 255, bands
    )[:, None, None]
    model = build_model(model_spec("FPN", "resnet18", None, bands, 3, "auto", mean, std))
    np.testing.assert_array_equal(model.normalize(torch.from_numpy(pixels)).numpy(), expected)
    np.testing.assert_array_equal(model.normalize(torch.from_numpy(pixels).float()).numpy(), expected)
    assert "normalize.mean" not in model.state_dict()


def test_a_batch_that_cannot_fit_is_refused_naming_its_key_before_anything_runs(tiny_tiles):
    from weakseg.learn.training import available_memory

    data = _data(tiny_tiles)
    settings = _settings(1, "last")
    tile = np.load(tiny_tiles / "images.npy", mmap_mode="r").shape[1:]
    too_many = available_memory(torch.device("cpu")) // (int(np.prod(tile)) * 4) + 1
    settings["training"]["batch_size"] = int(too_many)
    with pytest.raises(WeaksegError, match=rf"training.batch_size: a batch of {too_many} tiles .* GiB for its float32"):
        train(data, settings, run_files(tiny_tiles / "run"))
    assert not (tiny_tiles / "run").exists()
    settings.update(variant="weak_only", mode="weak")
    with pytest.raises(WeaksegError, match="pretraining.batch_size"):
        train(data, settings, run_files(tiny_tiles / "run"))


def test_finetuning_from_a_model_of_another_class_count_is_named(tiny_tiles):
    parent = build_model(model_spec("FPN", "resnet18", None, 3, 2))
    record = {  # the layout of model.pt before ModelSpec: still read
        "state_dict": parent.state_dict(),
        "model": {"arch": "FPN", "encoder": "resnet18"},
        "in_channels": 3,
        "class_names": ["background", "hair"],
    }
    torch.save(record, tiny_tiles / "parent.pt")
    settings = {**_settings(1, "last"), "init_from": str(tiny_tiles / "parent.pt")}
    with pytest.raises(WeaksegError, match=r"parent.pt: the model predicts 2 classes .* this dataset has 3"):
        train(_data(tiny_tiles), settings, run_files(tiny_tiles / "run"))
    record["class_names"] = ["a", "b", "c"]  # right count, wrong weights (a 2-class head)
    torch.save(record, tiny_tiles / "parent.pt")
    with pytest.raises(WeaksegError, match=r"parent.pt: its weights do not fit the model being built"):
        train(_data(tiny_tiles), settings, run_files(tiny_tiles / "run"))


def test_a_full_disk_during_training_is_named_and_the_rerun_resumes_identically(tiny_tiles, monkeypatch):
    """The second epoch's checkpoint goes to /dev/full (ENOSPC, as on a full disk): torch's own error is named."""
    import weakseg.learn.training as training

    whole = train(_data(tiny_tiles), _settings(2, "last"), run_files(tiny_tiles / "whole"))
    real_save, saves = torch.save, []
    from pathlib import Path

    def save_onto_a_full_disk(obj, path):
        if Path(path).name == ".checkpoint.pt.partial":
            saves.append(path)
        real_save(obj, "/dev/full" if len(saves) == 2 and Path(path) == saves[-1] else path)

    monkeypatch.setattr(training.torch, "save", save_onto_a_full_disk)
    out = tiny_tiles / "run"
    with pytest.raises(
        WeaksegError, match=r"checkpoint.pt: cannot write the checkpoint .* is the disk full\?.*resumes"
    ):
        train(_data(tiny_tiles), _settings(2, "last"), run_files(out))
    assert torch.load(out / "resume/checkpoint.pt", weights_only=False)["epoch"] == 1
    assert not list((out / "resume").glob(".*.partial")) and not (out / "model.pt").exists()
    monkeypatch.setattr(training.torch, "save", real_save)
    resumed = train(_data(tiny_tiles), _settings(2, "last"), run_files(out))
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in whole]


def test_replacing_local_encoder_weights_refuses_the_resume(tiny_tiles):
    """The weights file is part of the run's fingerprint: a resume after replacing it would mix two runs."""
    weights = tiny_tiles / "enc w.pth"
    torch.save(build_model(model_spec("FPN", "resnet18", None, 3, 3)).net.encoder.state_dict(), weights)
    settings = _settings(3)
    settings["model"]["encoder_weights"] = str(weights)
    out = tiny_tiles / "run"
    with pytest.raises(WeaksegError, match="loss became nan at epoch 2"):  # interrupted after epoch 1
        train(_data(tiny_tiles, PoisonedTiles), settings, run_files(out))
    torch.manual_seed(1)
    torch.save(build_model(model_spec("FPN", "resnet18", None, 3, 3)).net.encoder.state_dict(), weights)
    with pytest.raises(WeaksegError, match=r"input encoder_weights \(.*enc w.pth\): content changed"):
        train(_data(tiny_tiles), settings, run_files(out))
