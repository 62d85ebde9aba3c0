"""Content digests of files: the archive checksums of the download and the input fingerprints of a resumed run."""

from __future__ import annotations

import hashlib
import os


def file_digest(path: str | os.PathLike, algorithm: str, chunk_bytes: int = 1 << 22) -> str:
    """Hex digest (``hashlib`` ``algorithm``, e.g. md5, sha256) of a file, read in chunks of ``chunk_bytes`` bytes.

    Raises:
        OSError: the file cannot be read; ValueError: an algorithm ``hashlib`` does not know.
    """
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
