"""Find, fetch, verify and safely extract dataset archives.

Credentials for a download URL come only from the environment variables
:data:`USER_VARIABLE` and :data:`PASSWORD_VARIABLE`; they are never written to logs or outputs.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from weakseg.config import PASSWORD_VARIABLE, USER_VARIABLE
from weakseg.errors import WeaksegError
from weakseg.outputs import staged_outputs

log = logging.getLogger(__name__)

#: Value of an MD5 override that turns verification off for one archive.
SKIP_MD5 = "skip"


def md5sum(path: str | os.PathLike, chunk_bytes: int = 1 << 22) -> str:
    """Hex MD5 digest of a file, read in chunks of ``chunk_bytes`` bytes."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path: Path, expected: str | None) -> None:
    """Check ``path`` against ``expected`` (hex MD5, :data:`SKIP_MD5` or ``None`` = unknown).

    Raises:
        WeaksegError: the digest differs; the message gives both digests and the config key
            that accepts another copy's checksum.
    """
    if expected is None:
        log.warning("%s: no official MD5 known; set dataset.source.md5.%s to verify it", path, path.name)
        return
    if expected == SKIP_MD5:
        log.warning("%s: MD5 check skipped by configuration", path)
        return
    actual = md5sum(path)
    if actual != expected.lower():
        raise WeaksegError(
            f"{path}: MD5 mismatch (expected {expected}, got {actual}). The file is corrupt or not the "
            f"official archive; for another copy set dataset.source.md5.{path.name}: {actual} "
            f"(or '{SKIP_MD5}')"
        )
    log.info("%s: MD5 %s verified", path, actual)


def _download(url: str, destination: Path) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        raise WeaksegError(
            f"dataset.source.url must not hold credentials; set {USER_VARIABLE} and {PASSWORD_VARIABLE} instead"
        )
    request = urllib.request.Request(url)
    user, password = os.environ.get(USER_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    if user is not None and password is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    log.info("downloading %s", url)
    try:
        with staged_outputs(destination) as (staged,), urllib.request.urlopen(request, timeout=60) as response:
            with open(staged, "wb") as handle:
                shutil.copyfileobj(response, handle, 1 << 22)
    except urllib.error.HTTPError as error:
        hint = f" (set {USER_VARIABLE} and {PASSWORD_VARIABLE})" if error.code in (401, 403) else ""
        raise WeaksegError(f"download of {url} failed: HTTP {error.code} {error.reason}{hint}") from error
    except (urllib.error.URLError, OSError) as error:
        raise WeaksegError(f"download of {url} failed: {error}") from error


def locate_archive(name: str, folder: str | None, url: str | None, cache: Path) -> Path:
    """Path of archive ``name``: from ``folder`` if there, else downloaded from ``url``/``name``.

    Downloads go to ``cache`` (kept, so a rerun does not fetch again).

    Raises:
        WeaksegError: the archive is in neither place; the message says where to put it and
            which URL and environment variables to set.
    """
    if folder:
        candidate = Path(folder).expanduser() / name
        if candidate.is_file():
            return candidate
    cached = cache / name
    if cached.is_file():
        return cached
    if url:
        _download(url.rstrip("/") + "/" + urllib.parse.quote(name), cached)
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


def extract_matching(archive: Path, pattern: re.Pattern, destination: Path) -> dict[str, Path]:
    """Extract the members of zip ``archive`` whose path matches ``pattern`` into ``destination``.

    Every member name is checked by :func:`check_members` before anything is written.

    Args:
        pattern: a regular expression with one group, the scene id (``fullmatch`` on the member path).

    Returns:
        Scene id -> extracted file path.

    Raises:
        WeaksegError: not a zip file, an unsafe member, or two members for one scene.
    """
    try:
        handle = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as error:
        raise WeaksegError(f"{archive}: not a valid zip archive ({error})") from error
    with handle:
        names = handle.namelist()
        check_members(archive, names)
        found: dict[str, Path] = {}
        for name in names:
            match = pattern.fullmatch(name)
            if not match or name.endswith("/"):
                continue
            scene = match.group(1)
            if scene in found:
                raise WeaksegError(f"{archive}: two members for scene {scene!r}: {found[scene].name} and {name}")
            target = destination / PurePosixPath(name).name
            with handle.open(name) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 22)
            found[scene] = target
    return found
