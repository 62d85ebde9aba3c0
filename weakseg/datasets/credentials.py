"""Download credentials: read from the environment only, never from the config.

The config reaches command lines, job params and ``.snakemake/`` metadata, so a secret in it
would leak; the archive download (:mod:`weakseg.datasets.archives`) reads these variables.
"""

from __future__ import annotations

import urllib.parse

from weakseg.io.errors import WeaksegError

#: Environment variables holding download credentials (never the config: it reaches command lines).
USER_VARIABLE = "WEAKSEG_DOWNLOAD_USER"
PASSWORD_VARIABLE = "WEAKSEG_DOWNLOAD_PASSWORD"


def check_source_url(url: str | None) -> None:
    """Refuse a download URL that carries user info (``https://user:password@host/...``).

    Checked before any job: a URL reaches Snakemake's shell command, job params and
    ``.snakemake/`` metadata. The message does not repeat the URL.

    Raises:
        WeaksegError: naming ``dataset.source.url`` and the environment variables to use.
    """
    if not url:
        return
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise WeaksegError(
            "config dataset.source.url: "
            f"must not hold credentials (the part before '@'); remove them and set {USER_VARIABLE} and "
            f"{PASSWORD_VARIABLE} in the environment instead",
        )
