"""Shared plumbing for the command-line entry points in ``scripts/``."""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
from collections.abc import Callable

from weakseg.io.errors import WeaksegError
from weakseg.ops.gpu_lease import DEFAULT_LEASE_DIR, GpuPool, leased_gpu


def _terminate(signum, frame) -> None:
    """SIGTERM (Snakemake cancelling a job, a cluster's scancel or time limit) as an exception.

    Python's default for SIGTERM ends the process at once; raised instead, it unwinds through
    :func:`weakseg.io.outputs.staged_outputs`, which removes what the job had staged, so an
    interrupted job leaves nothing partial.
    """
    raise SystemExit(128 + signum)


def run_main(main: Callable[[], None]) -> None:
    """Run ``main`` with logging to stderr; a :class:`WeaksegError` exits 1 with its message.

    A full disk (``OSError`` ENOSPC) is bad circumstance, not a bug, and gets a message too;
    other exceptions keep their traceback (they are bugs, not bad input). SIGTERM ends the job
    through its clean-up (:func:`_terminate`).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        main()
    except WeaksegError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        print(
            f"error: no space left on the device writing {error.filename or 'an output'}; free space and rerun "
            "(outputs are written all or nothing, so nothing partial was kept)",
            file=sys.stderr,
        )
        sys.exit(1)


def add_gpu_arguments(parser: argparse.ArgumentParser) -> None:
    """``--gpus``, ``--jobs-per-gpu`` and ``--lease-dir`` of a GPU job (see :mod:`weakseg.ops.gpu_lease`)."""
    parser.add_argument(
        "--gpus", default="auto", help="comma-separated devices to lease from; auto: detect; none: no GPU"
    )
    parser.add_argument("--jobs-per-gpu", type=int, default=1, help="jobs that may share one device")
    parser.add_argument("--lease-dir", default=DEFAULT_LEASE_DIR, help="folder of the GPU lease files")


def gpu_pool(args: argparse.Namespace) -> GpuPool:
    """The :class:`GpuPool` of the arguments of :func:`add_gpu_arguments`."""
    if args.gpus in ("auto", "none"):
        return GpuPool(None if args.gpus == "auto" else (), args.jobs_per_gpu, args.lease_dir)
    devices = tuple(d.strip() for d in args.gpus.split(",") if d.strip())
    return GpuPool(devices, args.jobs_per_gpu, args.lease_dir)


def run_on_leased_gpu(
    parser: argparse.ArgumentParser, stage: Callable[[argparse.Namespace], None], argv: list[str] | None = None
) -> None:
    """Run a GPU job's ``stage`` on its parsed command line while it holds its GPU lease.

    Adds :func:`add_gpu_arguments` to ``parser``, parses ``argv`` (default: ``sys.argv``), and
    calls ``stage(args)`` inside :func:`weakseg.ops.gpu_lease.leased_gpu`, so CUDA starts only
    after the lease is taken.
    """
    add_gpu_arguments(parser)
    args = parser.parse_args(argv)
    with leased_gpu(gpu_pool(args)):
        stage(args)
