"""Downloads against real loopback HTTP servers, and bounded extraction of real zip archives."""

import base64
import hashlib
import http.server
import io
import re
import threading
import zipfile

import pytest

from weakseg.data.download import download
from weakseg.datasets.archives import PASSWORD_VARIABLE, USER_VARIABLE, extract_matching, locate_archive
from weakseg.io.errors import WeaksegError


def zip_bytes(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as handle:  # stored: the body is as long as the data
        for name, data in members.items():
            handle.writestr(name, data)
    return buffer.getvalue()


#: A real (stored) zip archive: downloads are checked to be readable archives.
PAYLOAD = zip_bytes({"data.bin": bytes(range(256)) * 64})
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


class Server:
    """A loopback HTTP server; ``routes`` maps a path to ``handler(request) -> None``; requests are recorded."""

    def __init__(self):
        self.routes, self.requests = {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                server.requests.append((self.path, dict(self.headers)))
                server.routes.get(self.path, lambda request: request.send_error(404))(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    started = [Server(), Server()]
    yield started
    for server in started:
        server.close()


def send(body: bytes, length: int | None = None):
    """A handler sending ``body`` with ``Content-Length: length`` (default: its true length)."""
    declared = len(body) if length is None else length

    def handler(request):
        request.send_response(200)
        request.send_header("Content-Length", str(declared))
        request.end_headers()
        request.wfile.write(body)

    return handler


def send_without_length(body: bytes):
    def handler(request):
        request.close_connection = True
        request.send_response(200)
        request.end_headers()
        request.wfile.write(body)

    return handler


def redirect(location: str):
    def handler(request):
        request.send_response(302)
        request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()

    return handler


def requires_basic_auth(user: str, password: str, then):
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def handler(request):
        if request.headers.get("Authorization") != expected:
            request.send_response(401)
            request.send_header("WWW-Authenticate", 'Basic realm="isprs"')
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        then(request)

    return handler


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv(USER_VARIABLE, "alice")
    monkeypatch.setenv(PASSWORD_VARIABLE, "pw-never-leaks")
    return "Basic " + base64.b64encode(b"alice:pw-never-leaks").decode()


def authorizations(server: Server) -> list:
    return [headers.get("Authorization") for _, headers in server.requests]


def test_credentials_are_not_sent_across_a_redirect_to_another_origin(tmp_path, servers, credentials):
    origin, other = servers
    origin.routes["/data/X.zip"] = requires_basic_auth("alice", "pw-never-leaks", redirect(f"{other.url}/mirror/X.zip"))
    other.routes["/mirror/X.zip"] = send(PAYLOAD)
    path = locate_archive("X.zip", None, f"{origin.url}/data", tmp_path / "cache", PAYLOAD_MD5)
    assert path.read_bytes() == PAYLOAD
    assert authorizations(origin) == [credentials]
    assert authorizations(other) == [None]


def test_credentials_follow_a_redirect_within_the_origin(tmp_path, servers, credentials):
    origin = servers[0]
    origin.routes["/data/X.zip"] = requires_basic_auth("alice", "pw-never-leaks", redirect("/moved/X.zip"))
    origin.routes["/moved/X.zip"] = requires_basic_auth("alice", "pw-never-leaks", send(PAYLOAD))
    path = locate_archive("X.zip", None, f"{origin.url}/data", tmp_path / "cache", PAYLOAD_MD5)
    assert path.read_bytes() == PAYLOAD
    assert authorizations(origin) == [credentials, credentials]


def test_missing_credentials_give_a_hint_and_no_file(tmp_path, servers):
    origin = servers[0]
    origin.routes["/X.zip"] = requires_basic_auth("alice", "pw-never-leaks", send(PAYLOAD))
    with pytest.raises(WeaksegError, match=f"HTTP 401.*{USER_VARIABLE}"):
        locate_archive("X.zip", None, origin.url, tmp_path / "cache", PAYLOAD_MD5)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_truncated_download_is_never_cached_and_a_fixed_server_is_fetched_again(tmp_path, servers):
    origin, cache = servers[0], tmp_path / "cache"
    origin.routes["/X.zip"] = send(PAYLOAD[:1000], length=len(PAYLOAD))
    with pytest.raises(WeaksegError, match=f"incomplete: received 1000 of {len(PAYLOAD)} bytes") as error:
        locate_archive("X.zip", None, origin.url, cache, PAYLOAD_MD5)
    assert "dataset.source.md5" not in str(error.value)  # no sum of a truncated file to adopt
    assert list(cache.iterdir()) == []
    origin.routes["/X.zip"] = send(PAYLOAD)
    assert locate_archive("X.zip", None, origin.url, cache, PAYLOAD_MD5).read_bytes() == PAYLOAD
    assert [p.name for p in cache.iterdir()] == ["X.zip"]


def test_download_failing_md5_is_deleted_and_suggests_its_sum_only_when_complete(tmp_path, servers):
    origin, cache = servers[0], tmp_path / "cache"
    other = b"another release of the archive"
    origin.routes["/X.zip"] = send(other)
    with pytest.raises(WeaksegError, match="MD5 mismatch") as error:
        locate_archive("X.zip", None, origin.url, cache, PAYLOAD_MD5)
    assert f"dataset.source.md5.X.zip: {hashlib.md5(other).hexdigest()}" in str(error.value)
    assert list(cache.iterdir()) == []
    origin.routes["/X.zip"] = send_without_length(other)
    with pytest.raises(WeaksegError, match="may be incomplete") as error:
        locate_archive("X.zip", None, origin.url, cache, PAYLOAD_MD5)
    assert "dataset.source.md5" not in str(error.value)
    assert list(cache.iterdir()) == []


def test_a_cached_file_failing_md5_is_replaced_by_a_new_download(tmp_path, servers):
    origin, cache = servers[0], tmp_path / "cache"
    cache.mkdir()
    (cache / "X.zip").write_bytes(PAYLOAD[:10])  # e.g. cached by an older version
    origin.routes["/X.zip"] = send(PAYLOAD)
    assert locate_archive("X.zip", None, origin.url, cache, PAYLOAD_MD5).read_bytes() == PAYLOAD
    assert [path for path, _ in origin.requests] == ["/X.zip"]


def zip_of(path, members: dict):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        for name, data in members.items():
            handle.writestr(name, data)
    return path


PATTERN = re.compile(r"(?:.*/)?img_(area\d+)\.tif")


def test_a_member_declaring_more_than_the_limit_is_refused_before_writing(tmp_path):
    archive = zip_of(tmp_path / "bomb.zip", {"top/img_area1.tif": b"x" * 100, "top/img_area2.tif": bytes(4 << 20)})
    assert archive.stat().st_size < 64 << 10  # 4 MiB of zeros compress to a few KiB
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(WeaksegError, match=r"'top/img_area2.tif' declares .*max_extracted_gib"):
        extract_matching(archive, PATTERN, out, max_bytes=1 << 20)
    assert list(out.iterdir()) == []


def test_members_over_the_limit_in_total_are_refused(tmp_path):
    archive = zip_of(tmp_path / "many.zip", {f"img_area{i}.tif": bytes(300 << 10) for i in range(5)})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(WeaksegError, match="in total"):
        extract_matching(archive, PATTERN, out, max_bytes=1 << 20)
    assert list(out.iterdir()) == []
    assert len(extract_matching(archive, PATTERN, out, max_bytes=2 << 20)) == 5


def test_a_member_longer_than_declared_is_refused_and_removed(tmp_path):
    archive = zip_of(tmp_path / "liar.zip", {"img_area1.tif": b"a" * 1000, "img_area2.tif": b"b" * 5000})
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as handle:
        info = handle.getinfo("img_area2.tif")
    # Rewrite the declared uncompressed size (local header and central directory) to 10 bytes.
    declared = info.file_size.to_bytes(4, "little")
    for start in [m.start() for m in re.finditer(re.escape(declared), bytes(data))]:
        data[start : start + 4] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(WeaksegError, match="img_area2.tif"):
        extract_matching(archive, PATTERN, out, max_bytes=1 << 20)
    assert list(out.iterdir()) == []


def test_download_over_the_extraction_limit_leaves_nothing(tmp_path):
    folder = tmp_path / "archives"
    folder.mkdir()
    zip_of(folder / "ISPRS_semantic_labeling_Vaihingen.zip", {"top/top_mosaic_09cm_area1.tif": bytes(3 << 20)})
    settings = {
        "name": "vaihingen",
        "scenes": None,
        "source": {
            "folder": str(folder),
            "url": None,
            "md5": {"ISPRS_semantic_labeling_Vaihingen.zip": "skip"},
            "max_extracted_gib": 1 / 1024,
        },
        "labels": "complete",
        "bands": None,
    }
    raw = tmp_path / "data" / "vaihingen" / "raw"
    with pytest.raises(WeaksegError, match="extraction limit of 0.000977 GiB"):
        download(raw, settings)
    leftovers = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert leftovers == []


LOGIN_PAGE = b"<!DOCTYPE html><html><body><form>Please log in</form></body></html>"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(send(LOGIN_PAGE), id="html-login-page-with-200"),
        pytest.param(send(PAYLOAD, length=len(PAYLOAD) - 700), id="content-length-lying-low"),
        pytest.param(send_without_length(PAYLOAD[: len(PAYLOAD) // 2]), id="dropped-without-content-length"),
    ],
)
def test_a_bad_download_without_md5_is_never_cached_and_a_fixed_server_is_fetched_again(tmp_path, servers, bad):
    origin, cache = servers[0], tmp_path / "cache"
    origin.routes["/X.zip"] = bad
    with pytest.raises(WeaksegError, match="download of .*X.zip is not a readable zip archive.*nothing was kept"):
        locate_archive("X.zip", None, origin.url, cache, None)
    assert list(cache.iterdir()) == []
    origin.routes["/X.zip"] = send(PAYLOAD)
    assert locate_archive("X.zip", None, origin.url, cache, None).read_bytes() == PAYLOAD
    assert [p.name for p in cache.iterdir()] == ["X.zip"]


def test_the_login_page_is_named_as_such(tmp_path, servers):
    servers[0].routes["/X.zip"] = send(LOGIN_PAGE)
    with pytest.raises(WeaksegError, match="HTML/XML page"):
        locate_archive("X.zip", None, servers[0].url, tmp_path / "cache", None)


def test_a_poisoned_cache_is_downloaded_again_or_named_with_its_path(tmp_path, servers):
    origin, cache = servers[0], tmp_path / "cache"
    cache.mkdir()
    (cache / "X.zip").write_bytes(LOGIN_PAGE)  # left by an older version that cached anything
    origin.routes["/X.zip"] = send(PAYLOAD)
    assert locate_archive("X.zip", None, origin.url, cache, None).read_bytes() == PAYLOAD
    (cache / "X.zip").write_bytes(LOGIN_PAGE)
    with pytest.raises(WeaksegError) as error:
        locate_archive("X.zip", None, None, cache, None)
    message = str(error.value)
    assert str(cache / "X.zip") in message and "not a readable zip archive" in message
    assert "dataset.source.url" in message and not (cache / "X.zip").exists()


def test_a_local_copy_that_is_not_a_zip_is_named_and_kept(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "X.zip").write_bytes(b"not an archive")
    with pytest.raises(WeaksegError, match=r"mine/X.zip is not a readable zip archive.*replace it"):
        locate_archive("X.zip", str(folder), None, tmp_path / "cache", None)
    assert (folder / "X.zip").exists()  # the user's file is never deleted
