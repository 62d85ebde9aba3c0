"""Find, fetch, verify and safely extract dataset archives.

Credentials for a download URL come only from the environment variables
:data:`USER_VARIABLE` and :data:`PASSWORD_VARIABLE`; they are never written to logs or outputs.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from weakseg.datasets.credentials import PASSWORD_VARIABLE, USER_VARIABLE, check_source_url
from weakseg.io.digest import file_digest
from weakseg.io.errors import WeaksegError
from weakseg.io.outputs import staged_outputs

log = logging.getLogger(__name__)

#: Value of an MD5 override that turns verification off for one archive.
SKIP_MD5 = "skip"
#: Default limit on the bytes extracted from one archive: a few times the largest official
#: ISPRS archive uncompressed (Potsdam 4_Ortho_RGBIR: 38 scenes of 6000 x 6000 x 4 bytes, 5.5 GB).
DEFAULT_MAX_EXTRACTED_BYTES = 32 * 2**30


def md5sum(path: str | os.PathLike, chunk_bytes: int = 1 << 22) -> str:
    """Hex MD5 digest of a file (the sums ISPRS publishes for its archives)."""
    return file_digest(path, "md5", chunk_bytes)


def verify_md5(path: Path, expected: str | None, name: str | None = None, complete: bool = True) -> None:
    """Check ``path`` against ``expected`` (hex MD5, :data:`SKIP_MD5` or ``None`` = unknown).

    Args:
        name: the archive's name for messages and the config key (default: ``path.name``).
        complete: whether the file is known to be whole (a local copy, or a download that
            matched its Content-Length). Only then does a mismatch suggest adopting its sum.

    Raises:
        WeaksegError: the digest differs; the message gives both digests and, for a complete
            file, the config key that accepts another copy's checksum.
    """
    name = name or path.name
    if expected is None:
        log.warning("%s: no official MD5 known; set dataset.source.md5.%s to verify it", name, name)
        return
    if expected == SKIP_MD5:
        log.warning("%s: MD5 check skipped by configuration", name)
        return
    actual = md5sum(path)
    if actual == expected.lower():
        log.info("%s: MD5 %s verified", name, actual)
        return
    if complete:
        advice = (
            f"The file is corrupt or not the official archive; if you trust this copy, set "
            f"dataset.source.md5.{name}: {actual} (or '{SKIP_MD5}')"
        )
    else:
        advice = "The server did not say how long the file is, so it may be incomplete: try again"
    raise WeaksegError(f"{path}: MD5 mismatch (expected {expected}, got {actual}). {advice}")


def check_readable_zip(path: Path, what: str, advice: str) -> None:
    """Refuse a file that is not a readable zip archive (its central directory cannot be read).

    An archive with no published MD5 is verified this way before it enters the download cache:
    an HTML error or login page served with status 200, a body cut short by a lying
    Content-Length or a dropped connection all fail here (the central directory is at the end).

    Args:
        what: the file, as the message names it.
        advice: what to do about it.

    Raises:
        WeaksegError: ``<what> is not a readable zip archive (<reason>); <advice>``.
    """
    head = b""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512).lstrip().lower()
        with zipfile.ZipFile(path):
            return
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        looks_html = head.startswith((b"<!doctype html", b"<html", b"<?xml"))
        reason = "it is an HTML/XML page, e.g. an error or login page" if looks_html else str(error)
        raise WeaksegError(f"{what} is not a readable zip archive ({reason}); {advice}") from None


def _opener(url: str) -> urllib.request.OpenerDirector:
    """Urllib opener sending the environment's credentials to ``url``'s origin only.

    The Basic authorization header is registered for the origin (scheme, host, port) with
    urllib's password manager and added as an unredirected header, so a redirect to another
    origin never carries it (a same-origin redirect gets it again).
    """
    user, password = os.environ.get(USER_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    if user is None or password is None:
        return urllib.request.build_opener()
    parts = urllib.parse.urlsplit(url)
    manager = urllib.request.HTTPPasswordMgrWithPriorAuth()
    manager.add_password(None, f"{parts.scheme}://{parts.netloc}/", user, password, is_authenticated=True)
    return urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(manager))


def _download(url: str, destination: Path, expected_md5: str | None) -> None:
    """Fetch ``url`` to a hidden temporary file; move it to ``destination`` only once verified.

    Verified: as long as the server's Content-Length (when sent), the MD5 ``expected_md5``
    (see :func:`verify_md5`), and a readable zip archive (:func:`check_readable_zip`, which
    catches what no MD5 can when none is known). On any failure the temporary file is deleted.

    Raises:
        WeaksegError: credentials in the URL, an HTTP or network error, a short download, an
            MD5 mismatch, or a body that is not a zip archive.
    """
    check_source_url(url)
    log.info("downloading %s", url)
    try:
        with staged_outputs(destination) as (staged,), _opener(url).open(url, timeout=60) as response:
            declared = response.headers.get("Content-Length")
            with open(staged, "wb") as handle:
                shutil.copyfileobj(response, handle, 1 << 22)
            received = staged.stat().st_size
            if declared is not None and received != int(declared):
                raise WeaksegError(
                    f"download of {url} is incomplete: received {received} of {declared} bytes (Content-Length); "
                    "nothing was kept, try again"
                )
            verify_md5(staged, expected_md5, destination.name, complete=declared is not None)
            check_readable_zip(
                staged,
                f"the download of {url}",
                "nothing was kept: check the URL and credentials, or try again if the transfer was cut",
            )
    except urllib.error.HTTPError as error:
        hint = f" (set {USER_VARIABLE} and {PASSWORD_VARIABLE})" if error.code in (401, 403) else ""
        raise WeaksegError(f"download of {url} failed: HTTP {error.code} {error.reason}{hint}") from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise WeaksegError(f"download of {url} failed: {error}") from error


def locate_archive(
    name: str, folder: str | None, url: str | None, cache: Path, expected_md5: str | None = None
) -> Path:
    """Path of archive ``name``, verified against ``expected_md5``.

    From ``folder`` if there, else from the download cache, else downloaded from
    ``url``/``name`` into ``cache``.

    Only verified downloads enter the cache (kept, so a rerun does not fetch again). A cached
    file that fails verification (MD5, or not a readable zip: e.g. cached by an older version)
    is deleted and, with a URL, downloaded again.

    Raises:
        WeaksegError: the archive is in neither place (the message says where to put it and
            which URL and environment variables to set), or it fails verification.
    """
    if folder:
        candidate = Path(folder).expanduser() / name
        if candidate.is_file():
            verify_md5(candidate, expected_md5)
            check_readable_zip(candidate, str(candidate), "replace it with the official archive")
            return candidate
    cached = cache / name
    if cached.is_file():
        try:
            verify_md5(cached, expected_md5)
            check_readable_zip(cached, f"the cached download {cached}", "it is deleted")
            return cached
        except WeaksegError as error:
            cached.unlink()
            if not url:
                raise WeaksegError(
                    f"{error}; put the archive in dataset.source.folder, or set dataset.source.url to download it "
                    f"again (the cached copy {cached} was deleted)"
                ) from None
            log.warning("%s: the cached download fails verification (%s); deleted, downloading again", cached, error)
    if url:
        _download(url.rstrip("/") + "/" + urllib.parse.quote(name), cached, expected_md5)
        return cached
    where = f"the folder {Path(folder).expanduser()}" if folder else "no folder (dataset.source.folder is not set)"
    raise WeaksegError(
        f"archive {name} not found in {where}. Put the official archive there (set dataset.source.folder), "
        f"or set dataset.source.url to a base URL serving it (credentials in {USER_VARIABLE} / {PASSWORD_VARIABLE})"
    )


def check_members(archive: Path, names: list[str]) -> None:
    """Refuse archive member names that would land outside the extraction folder.

    Raises:
        WeaksegError: a member has an absolute path, a drive letter or a ``..`` component.
    """
    for name in names:
        path = PurePosixPath(name.replace("\\", "/"))
        if path.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in path.parts:
            raise WeaksegError(f"{archive}: unsafe member {name!r} (absolute path or '..'); refusing to extract")


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.3g} GiB"


def check_sizes(archive: Path, members: list[zipfile.ZipInfo], max_bytes: int) -> None:
    """Refuse members whose declared uncompressed sizes exceed ``max_bytes``, one by one or in total.

    Raises:
        WeaksegError: naming the archive, the member (or the total), the sizes and
            ``dataset.source.max_extracted_gib``.
    """
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > max_bytes or total > max_bytes:
            what = (
                f"member {member.filename!r} declares {_gib(member.file_size)}"
                if member.file_size > max_bytes
                else (f"its members declare {_gib(total)} or more in total")
            )
            raise WeaksegError(
                f"{archive}: {what}, more than the extraction limit of {_gib(max_bytes)}; refusing to extract. "
                "If the archive is genuine, raise dataset.source.max_extracted_gib"
            )


def check_free_space(archive: Path, members: list[zipfile.ZipInfo], destination: Path) -> None:
    """Refuse to extract members that would not fit on the destination's file system.

    Raises:
        WeaksegError: naming the archive, the bytes needed and the bytes free.
    """
    needed, free = sum(m.file_size for m in members), shutil.disk_usage(destination).free
    if needed > free:
        raise WeaksegError(f"{archive}: extracting needs {_gib(needed)} but {destination} has {_gib(free)} free")


def _copy_bounded(source, target: Path, limit: int, archive: Path, name: str) -> int:
    """Copy at most ``limit`` bytes from ``source`` to ``target``; returns the bytes written.

    Raises:
        WeaksegError: the member holds more than ``limit`` bytes (more than it declared, or
            more than the archive's remaining allowance).
    """
    written = 0
    with open(target, "wb") as out:
        while chunk := source.read(1 << 22):
            written += len(chunk)
            if written > limit:
                raise WeaksegError(f"{archive}: member {name!r} holds more bytes than allowed ({limit}); refusing it")
            out.write(chunk)
    return written


@dataclass(frozen=True)
class ArchiveSource:
    """Where a dataset's official archives come from: the ``dataset.source`` section of the config.

    Attributes:
        folder: a folder holding the archives (or, for Cityscapes, their extracted folders), or None.
        url: a base URL serving them (credentials from the environment, never the URL), or None.
        md5: archive name -> expected MD5 (``skip``: no check), overriding the adapter's official ones.
        max_extracted_bytes: the most bytes the matching members of one archive may extract to.
    """

    folder: str | None
    url: str | None
    md5: dict
    max_extracted_bytes: int

    @classmethod
    def from_settings(cls, settings: dict) -> ArchiveSource:
        """From the ``dataset`` section (``source.{folder, url, md5, max_extracted_gib}``, all optional)."""
        source = settings.get("source") or {}
        gib = source.get("max_extracted_gib", DEFAULT_MAX_EXTRACTED_BYTES / 2**30)
        return cls(source.get("folder"), source.get("url"), dict(source.get("md5") or {}), int(gib * 2**30))

    def fetch(self, name: str, cache: Path, official_md5: dict | None = None) -> Path:
        """Archive ``name``, verified (see :func:`locate_archive`); ``official_md5`` are the adapter's MD5s.

        Raises:
            WeaksegError: see :func:`locate_archive`.
        """
        return locate_archive(name, self.folder, self.url, cache, self.md5.get(name, (official_md5 or {}).get(name)))


def extract_matching(
    archive: Path,
    pattern: re.Pattern,
    destination: Path,
    max_bytes: int = DEFAULT_MAX_EXTRACTED_BYTES,
    keep: Callable[[str], bool] | None = None,
) -> dict[str, Path]:
    """Extract the members of zip ``archive`` whose path matches ``pattern`` into ``destination``.

    Before anything is written, every member name is checked by :func:`check_members` and the
    declared sizes of the matching members by :func:`check_sizes`; while writing, the bytes
    actually written are counted against the same limit. On any error, the files this call
    extracted are deleted.

    Args:
        pattern: a regular expression with one group, the scene id (``fullmatch`` on the member path).
        max_bytes: the most bytes the matching members may hold, declared and written (bytes).
        keep: when given, only members whose scene id it accepts are extracted.

    Returns:
        Scene id -> extracted file path.

    Raises:
        WeaksegError: not a zip file, an unsafe member, two members for one scene, or members
            larger than ``max_bytes``.
    """
    try:
        handle = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as error:
        raise WeaksegError(
            f"{archive}: not a valid zip archive ({error}); replace it with the official archive (a download "
            "cache copy: delete it to download it again)"
        ) from error
    found: dict[str, Path] = {}
    try:
        with handle:
            check_members(archive, handle.namelist())
            members = [
                m
                for m in handle.infolist()
                if not m.is_dir()
                and (match := pattern.fullmatch(m.filename))
                and (keep is None or keep(match.group(1)))
            ]
            check_sizes(archive, members, max_bytes)
            check_free_space(archive, members, destination)
            written = 0
            for member in members:
                scene = pattern.fullmatch(member.filename).group(1)
                if scene in found:
                    raise WeaksegError(
                        f"{archive}: two members for scene {scene!r}: {found[scene].name} and {member.filename}"
                    )
                found[scene] = destination / PurePosixPath(member.filename).name
                limit = min(member.file_size, max_bytes - written)
                try:
                    with handle.open(member) as source:
                        written += _copy_bounded(source, found[scene], limit, archive, member.filename)
                except (zipfile.BadZipFile, zlib.error, EOFError) as error:
                    raise WeaksegError(f"{archive}: member {member.filename!r} is corrupt ({error})") from error
    except BaseException:
        for path in found.values():
            path.unlink(missing_ok=True)
        raise
    return found
