"""What makes a resume the same run: settings and input fingerprints."""

import hashlib
import os

import pytest

from weakseg.io.errors import WeaksegError
from weakseg.learn.resume import changes, check_same_run, fingerprint, settings_hash


def test_fingerprint_hashes_content_and_reuses_a_recorded_digest_only_for_the_same_file(tmp_path):
    path = tmp_path / "splits.json"
    path.write_bytes(b"version one")
    first = fingerprint({"splits": path})
    assert first["splits"]["sha256"] == hashlib.sha256(b"version one").hexdigest()
    assert first["splits"]["size"] == 11
    # same path, size and mtime: the recorded digest is trusted (a planted one shows it was not recomputed)
    planted = {"splits": {**first["splits"], "sha256": "recorded"}}
    assert fingerprint({"splits": path}, known=planted)["splits"]["sha256"] == "recorded"
    path.write_bytes(b"version two")  # same size, new mtime
    os.utime(path, ns=(first["splits"]["mtime_ns"] + 10**9,) * 2)
    assert (
        fingerprint({"splits": path}, known=planted)["splits"]["sha256"] == hashlib.sha256(b"version two").hexdigest()
    )
    with pytest.raises(WeaksegError, match="input weak_labels"):
        fingerprint({"weak_labels": tmp_path / "missing.csv"})


def test_changes_name_settings_and_inputs(tmp_path):
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    settings = {"training": {"lr": 0.01, "epochs": 3}}
    inputs = fingerprint({"splits": tmp_path / "a", "init": tmp_path / "b"})
    checkpoint = {"settings": settings, "settings_hash": settings_hash(settings), "inputs": inputs}
    assert changes(checkpoint, settings, inputs) == []
    (tmp_path / "b").write_bytes(b"B")
    now = fingerprint({"splits": tmp_path / "a", "init": tmp_path / "b"})
    assert changes(checkpoint, {"training": {"lr": 0.1, "epochs": 3}}, now) == [
        "training.lr: 0.01 -> 0.1",
        f"input init ({tmp_path / 'b'}): content changed since the interruption",
    ]
    assert changes(checkpoint, settings, {"splits": now["splits"]}) == ["input init: removed"]
    legacy = {"settings": settings, "settings_hash": settings_hash(settings)}
    assert "records no fingerprint" in changes(legacy, settings, inputs)[0]
    with pytest.raises(WeaksegError, match=r"refusing to mix runs.*delete .* to start over"):
        check_same_run(checkpoint, settings, now, tmp_path / "resume" / "checkpoint.pt")
