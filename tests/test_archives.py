"""Archives: locating, MD5 verification, safe extraction, and the ISPRS download on the real sample."""

import csv
import hashlib
import re
import shutil
import zipfile

import numpy as np
import pytest
from conftest import VAIHINGEN_IMAGES, VAIHINGEN_LABELS, VAIHINGEN_SAMPLE_MD5

from weakseg.data.download import download, read_scenes
from weakseg.datasets.archives import (
    PASSWORD_VARIABLE,
    USER_VARIABLE,
    check_members,
    extract_matching,
    locate_archive,
    md5sum,
    verify_md5,
)
from weakseg.io.errors import WeaksegError


def test_md5sum_matches_hashlib_across_chunk_boundaries(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = hashlib.md5(data).hexdigest()
    assert md5sum(path) == expected
    assert md5sum(path, chunk_bytes=333) == expected  # not a multiple of the size


def test_verify_md5_mismatch_names_file_both_sums_and_the_config_key(tmp_path):
    path = tmp_path / "archive.zip"
    path.write_bytes(b"not the official archive")
    actual = hashlib.md5(b"not the official archive").hexdigest()
    wrong = "0" * 32
    with pytest.raises(WeaksegError) as error:
        verify_md5(path, wrong)
    message = str(error.value)
    assert str(path) in message and wrong in message and actual in message
    assert "dataset.source.md5.archive.zip" in message
    verify_md5(path, actual)
    verify_md5(path, actual.upper())  # hex case does not matter
    verify_md5(path, "skip")
    verify_md5(path, None)  # unknown official sum: warn only


@pytest.mark.parametrize(
    "name", ["../evil.tif", "/etc/evil.tif", "top/../../evil.tif", "C:/evil.tif", "a\\..\\..\\evil.tif"]
)
def test_unsafe_member_names_are_refused(name):
    with pytest.raises(WeaksegError, match="unsafe member"):
        check_members("a.zip", ["top/ok.tif", name])


def test_safe_member_names_pass():
    check_members("a.zip", ["top/", "top/top_mosaic_09cm_area1.tif", "gts/..hidden.tif", "x..y.tif"])


def make_zip(path, members: dict):
    with zipfile.ZipFile(path, "w") as handle:
        for name, data in members.items():
            handle.writestr(name, data)
    return path


def test_extract_matching_keeps_pattern_members_and_flattens(tmp_path):
    archive = make_zip(
        tmp_path / "a.zip",
        {"top/": b"", "top/img_area1.tif": b"one", "top/img_area12.tif": b"twelve", "readme.txt": b"skip me"},
    )
    out = tmp_path / "out"
    out.mkdir()
    found = extract_matching(archive, re.compile(r"top/img_(area\d+)\.tif"), out)
    assert found == {"area1": out / "img_area1.tif", "area12": out / "img_area12.tif"}
    assert found["area12"].read_bytes() == b"twelve"
    assert sorted(p.name for p in out.iterdir()) == ["img_area1.tif", "img_area12.tif"]


def test_extract_refuses_unsafe_archive_before_writing_anything(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"top/img_area1.tif": b"ok", "../evil.tif": b"evil"})
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    with pytest.raises(WeaksegError, match=r"\.\./evil\.tif"):
        extract_matching(archive, re.compile(r"(?:.*/)?img_(area\d+)\.tif|\.\./(evil)\.tif"), out)
    assert not any(out.iterdir())
    assert not (tmp_path / "deep" / "evil.tif").exists()


def test_extract_refuses_non_zip_and_duplicate_scenes(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"plain text")
    with pytest.raises(WeaksegError, match="not a valid zip"):
        extract_matching(tmp_path / "bad.zip", re.compile("(x)"), tmp_path)
    archive = make_zip(tmp_path / "dup.zip", {"a/img_area1.tif": b"1", "b/img_area1.tif": b"2"})
    with pytest.raises(WeaksegError, match="two members for scene 'area1'"):
        extract_matching(archive, re.compile(r"(?:.*/)?img_(area\d+)\.tif"), tmp_path)


def test_missing_archive_message_says_where_to_put_it(tmp_path):
    folder = tmp_path / "archives_here"
    with pytest.raises(WeaksegError) as error:
        locate_archive("X.zip", str(folder), None, tmp_path / "cache")
    message = str(error.value)
    assert "X.zip" in message and str(folder) in message
    assert "dataset.source.folder" in message and "dataset.source.url" in message
    assert USER_VARIABLE in message and PASSWORD_VARIABLE in message
    with pytest.raises(WeaksegError, match="dataset.source.folder is not set"):
        locate_archive("X.zip", None, None, tmp_path / "cache")


def test_locate_prefers_folder_then_cache(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "cache").mkdir()
    make_zip(tmp_path / "cache" / "X.zip", {"cached.txt": b"cached"})
    assert locate_archive("X.zip", str(tmp_path / "folder"), None, tmp_path / "cache") == tmp_path / "cache" / "X.zip"
    make_zip(tmp_path / "folder" / "X.zip", {"local.txt": b"local"})
    assert locate_archive("X.zip", str(tmp_path / "folder"), None, tmp_path / "cache") == tmp_path / "folder" / "X.zip"


def test_credentials_in_url_are_refused(tmp_path):
    with pytest.raises(WeaksegError, match=USER_VARIABLE):
        locate_archive("X.zip", None, "https://user:secret@example.invalid/data", tmp_path / "cache")
    assert not (tmp_path / "cache" / "X.zip").exists()


def test_file_url_download_into_cache(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    make_zip(served / "X Y.zip", {"payload.txt": b"payload"})
    cache = tmp_path / "cache"
    path = locate_archive("X Y.zip", None, served.as_uri(), cache)
    assert path == cache / "X Y.zip" and path.read_bytes() == (served / "X Y.zip").read_bytes()
    assert not list(cache.glob(".*.partial"))


def vaihingen_settings(folder, md5=None, **extra):
    return {
        "name": "vaihingen",
        "scenes": None,
        "source": {"folder": str(folder), "url": None, "md5": md5 or {}},
        "labels": "complete",
        "bands": None,
        **extra,
    }


def test_real_vaihingen_sample_downloads_with_md5_overrides(tmp_path, vaihingen_dir):
    raw = tmp_path / "data" / "vaihingen" / "raw"
    scenes = download(raw, vaihingen_settings(vaihingen_dir, VAIHINGEN_SAMPLE_MD5))
    assert [s.scene for s in scenes] == ["area4"]
    assert read_scenes(raw) == scenes
    for s in scenes:
        assert (raw / s.image).is_file() and (raw / s.label).is_file()
    with open(raw / "scenes.csv", newline="") as handle:
        assert next(csv.reader(handle)) == ["scene", "image", "label", "frames", "scoring_label"]
    assert not list(raw.parent.glob(".*.partial"))


def test_real_vaihingen_sample_fails_the_official_md5_and_leaves_nothing(tmp_path, vaihingen_dir):
    raw = tmp_path / "raw"
    with pytest.raises(WeaksegError, match="MD5 mismatch") as error:
        download(raw, vaihingen_settings(vaihingen_dir))
    assert VAIHINGEN_SAMPLE_MD5[VAIHINGEN_IMAGES] in str(error.value)  # tells the user their copy's sum
    assert not raw.exists() and not list(tmp_path.glob(".*.partial"))


def test_unknown_scene_id_is_refused(tmp_path, vaihingen_dir):
    with pytest.raises(WeaksegError, match="area99") as error:
        download(tmp_path / "raw", vaihingen_settings(vaihingen_dir, VAIHINGEN_SAMPLE_MD5, scenes=["area99"]))
    assert "area4" in str(error.value)  # lists what is available
    assert not (tmp_path / "raw").exists()


def test_archive_without_matching_members_is_refused(tmp_path, vaihingen_dir):
    shutil.copy(vaihingen_dir / VAIHINGEN_IMAGES, tmp_path / VAIHINGEN_IMAGES)
    make_zip(tmp_path / VAIHINGEN_LABELS, {"other/file.txt": b"nothing"})
    md5 = {VAIHINGEN_IMAGES: "skip", VAIHINGEN_LABELS: "skip"}
    with pytest.raises(WeaksegError, match="no member matches"):
        download(tmp_path / "raw", vaihingen_settings(tmp_path, md5))
    assert not (tmp_path / "raw").exists()
