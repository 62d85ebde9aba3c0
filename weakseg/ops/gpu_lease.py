"""One GPU per job: a lease on a device index, exported as ``CUDA_VISIBLE_DEVICES``.

Snakemake counts ``gpu`` resources but never says which device a job gets (Snakemake issue
#281), so on a 4-GPU node four jobs started with ``--resources gpu=4`` would all land on
GPU 0. Each job here takes an exclusive, non-blocking ``fcntl.flock`` on one file per
(device, slot) in a lease folder before CUDA is initialised, and holds it while it runs.
The kernel drops a lock when its process dies, however it dies (SIGKILL included), so a
lease is never left stale. With ``jobs_per_gpu`` > 1 a device has that many slots; slot 0 of
every device is tried before slot 1, so jobs spread over the devices before they share one.

Under SLURM (``SLURM_JOB_ID`` set) with one device in ``CUDA_VISIBLE_DEVICES``, the scheduler
has already given the job its own GPU (one SLURM job per rule job, ``profiles/slurm``) and the
lease defers to it. With several, the whole study runs inside one allocation (docs/clusters.md,
"One allocation") and its jobs lease the allocation's GPUs among themselves as on any machine.
Without any device, nothing changes. This module imports no CUDA library, so it runs before torch touches the GPU.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from weakseg.io.errors import WeaksegError

log = logging.getLogger(__name__)

#: Where leases live unless ``resources.lease_dir`` says otherwise (relative to the project root).
DEFAULT_LEASE_DIR = ".snakemake/gpu-leases"


@dataclass(frozen=True)
class GpuPool:
    """The devices jobs may lease.

    Attributes:
        devices: device indices or UUIDs as ``CUDA_VISIBLE_DEVICES`` takes them; None = the
            ones ``CUDA_VISIBLE_DEVICES`` lists when set, else the ones ``nvidia-smi`` lists.
        jobs_per_gpu: jobs that may hold one device at once (slots per device).
        lease_dir: folder of the lock files; on a local file system (``flock`` is unreliable
            on some network file systems), shared by every job of the node.
    """

    devices: tuple[str, ...] | None = None
    jobs_per_gpu: int = 1
    lease_dir: str = DEFAULT_LEASE_DIR


def detect_devices(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """The devices a job may use: ``CUDA_VISIBLE_DEVICES`` when set, else ``nvidia-smi``'s indices.

    Returns an empty list when neither names a device (no GPU, or no NVIDIA driver).
    """
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [d.strip() for d in environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    if shutil.which("nvidia-smi", path=environ.get("PATH")) is None:
        return []
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]


def _try_lock(path: Path):
    """The open file of ``path`` locked exclusively, or None when another process holds it.

    Raises:
        WeaksegError: the lease file cannot be created or locked (naming ``resources.lease_dir``).
    """
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the job's lifetime
    except OSError as error:
        raise WeaksegError(
            f"resources.lease_dir: cannot create the lease file {path} ({error}); set resources.lease_dir to a "
            "writable folder on a local file system"
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    except OSError as error:
        handle.close()
        raise WeaksegError(
            f"resources.lease_dir: cannot lock {path} ({error}); flock needs a local file system, so set "
            "resources.lease_dir to a local folder"
        ) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    return handle


def _take(devices: list[str], pool: GpuPool, poll_seconds: float):
    """Block until a (device, slot) lock is free; returns ``(device, path, open locked file)``."""
    folder = Path(pool.lease_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WeaksegError(
            f"resources.lease_dir: cannot create {folder} ({error}); set resources.lease_dir to a writable local folder"
        ) from error
    waited = False
    while True:
        for slot in range(pool.jobs_per_gpu):
            for device in devices:
                path = folder / f"gpu-{device}.slot-{slot}.lock"
                handle = _try_lock(path)
                if handle is not None:
                    return device, path, handle
        if not waited:
            log.info("all %d GPU leases in %s are held; waiting for one", len(devices) * pool.jobs_per_gpu, folder)
            waited = True
        time.sleep(poll_seconds)


@contextmanager
def leased_gpu(
    pool: GpuPool, environ: MutableMapping[str, str] = os.environ, poll_seconds: float = 0.5
) -> Iterator[str | None]:
    """Hold a device of ``pool`` for the ``with`` block; yields it (None: no GPU, run as before).

    Sets ``environ["CUDA_VISIBLE_DEVICES"]`` to the leased device, so the job's process sees it
    as ``cuda:0``; restores the previous value on exit. Blocks (polling every ``poll_seconds``
    seconds) while every slot of every device is held.

    Raises:
        WeaksegError: CUDA was initialised in this process before the lease (the variable
            would be ignored), or the lease folder cannot be created.
    """
    scheduled = [d for d in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    if environ.get("SLURM_JOB_ID") and len(scheduled) == 1:
        log.info(
            "GPU: SLURM job %s, CUDA_VISIBLE_DEVICES=%s set by the scheduler",
            environ["SLURM_JOB_ID"],
            environ["CUDA_VISIBLE_DEVICES"],
        )
        yield environ["CUDA_VISIBLE_DEVICES"]
        return
    devices = list(pool.devices) if pool.devices is not None else detect_devices(environ)
    if not devices:
        yield None
        return
    _refuse_initialised_cuda()
    device, path, handle = _take(devices, pool, poll_seconds)
    previous = environ.get("CUDA_VISIBLE_DEVICES")
    environ["CUDA_VISIBLE_DEVICES"] = device
    log.info("GPU lease %s: CUDA_VISIBLE_DEVICES=%s", path, device)
    try:
        yield device
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
        if previous is None:
            environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            environ["CUDA_VISIBLE_DEVICES"] = previous
        log.info("GPU lease %s released", path)


def _refuse_initialised_cuda() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise WeaksegError("CUDA was initialised before the GPU lease was taken; take the lease first")
