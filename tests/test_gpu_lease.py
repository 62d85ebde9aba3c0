"""GPU leases: one device per concurrent job, none left stale by a killed job, jobs_per_gpu slots."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import REPO, run_snakemake

from weakseg.ops.gpu_lease import GpuPool, detect_devices, leased_gpu

#: A job of the test workflows: holds a lease through the scripts' own entry helper
#: (run_on_leased_gpu), records what it saw and when, and sleeps while holding it.
JOB = textwrap.dedent(
    """
    import argparse, json, os, sys, time
    sys.path.insert(0, {repo!r})
    from weakseg.ops.cli import run_on_leased_gpu

    def stage(args):
        start = time.monotonic()
        seen = os.environ["CUDA_VISIBLE_DEVICES"]
        time.sleep(args.hold)
        end = time.monotonic()
        with open(args.out, "w") as handle:
            json.dump({{"device": seen, "start": start, "end": end}}, handle)

    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--hold", type=float)
    run_on_leased_gpu(parser, stage)
    """
)


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def _max_concurrent(records: list[dict]) -> int:
    return max(sum(r["start"] <= t["start"] < r["end"] for r in records) for t in records)


def test_concurrent_snakemake_jobs_get_different_devices(tmp_path):
    (tmp_path / "job.py").write_text(JOB.format(repo=str(REPO)))
    (tmp_path / "Snakefile").write_text(
        textwrap.dedent(
            f"""
            rule all:
                input: expand("out/{{i}}.json", i=range(8))

            rule job:
                output: "out/{{i}}.json"
                resources: gpu=1
                shell: "{sys.executable} job.py --out {{output}} --hold 1.5 --gpus 0,1,2,3 --lease-dir leases"
            """
        )
    )
    result = run_snakemake(tmp_path, "--cores", "8", "--resources", "gpu=4")
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads((tmp_path / "out" / f"{i}.json").read_text()) for i in range(8)]
    assert {r["device"] for r in records} <= {"0", "1", "2", "3"}
    assert _max_concurrent(records) >= 2, "the jobs never ran at once; the test proves nothing"
    for a, b in itertools.combinations(records, 2):
        if _overlap(a, b):
            assert a["device"] != b["device"], (a, b)


def test_jobs_per_gpu_two_allows_two_holders_per_device(tmp_path):
    (tmp_path / "job.py").write_text(JOB.format(repo=str(REPO)))
    jobs = [
        subprocess.Popen(
            [sys.executable, "job.py", "--out", f"{i}.json", "--hold", "0.6"]
            + ["--gpus", "7", "--jobs-per-gpu", "2", "--lease-dir", "leases"],
            cwd=tmp_path,
            env=_clean_env(),
        )
        for i in range(5)
    ]
    assert [job.wait(timeout=60) for job in jobs] == [0] * 5
    records = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(5)]
    assert {r["device"] for r in records} == {"7"}
    assert _max_concurrent(records) == 2


def _lock_is_free(path: Path) -> bool:
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def test_a_killed_job_leaves_no_lease_behind(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from weakseg.ops.gpu_lease import GpuPool, leased_gpu\n"
            "with leased_gpu(GpuPool(('0',), 1, 'leases')):\n"
            "    print('held', flush=True); time.sleep(600)",
        ],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = tmp_path / "leases" / "gpu-0.slot-0.lock"
        assert not _lock_is_free(lock), "the live job's lease must block others"
        assert str(holder.pid) in lock.read_text()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert _lock_is_free(lock)
    started = time.monotonic()
    environ = {}
    with leased_gpu(GpuPool(("0",), 1, str(tmp_path / "leases")), environ) as device:
        assert device == "0" and environ["CUDA_VISIBLE_DEVICES"] == "0"
    assert time.monotonic() - started < 5
    assert "CUDA_VISIBLE_DEVICES" not in environ


def test_without_devices_nothing_changes(tmp_path):
    environ = {"PATH": "/nonexistent"}  # no nvidia-smi on this PATH
    with leased_gpu(GpuPool(None, 1, str(tmp_path / "leases")), environ) as device:
        assert device is None
    assert environ == {"PATH": "/nonexistent"}
    assert not (tmp_path / "leases").exists()


def test_slurm_allocation_is_used_as_is(tmp_path):
    environ = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "3"}
    with leased_gpu(GpuPool(("0", "1"), 1, str(tmp_path / "leases")), environ) as device:
        assert device == "3" and environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert not (tmp_path / "leases").exists()


def test_inside_one_allocation_with_several_gpus_jobs_lease_them_among_themselves(tmp_path):
    # The whole study in one salloc/sbatch: SLURM shows every GPU of the allocation to every job.
    pool = GpuPool(None, 1, str(tmp_path / "leases"))
    first = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0,1"}
    second = dict(first)
    with leased_gpu(pool, first) as one, leased_gpu(pool, second) as other:
        assert {one, other} == {"0", "1"}
        assert {first["CUDA_VISIBLE_DEVICES"], second["CUDA_VISIBLE_DEVICES"]} == {"0", "1"}
    assert first["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_devices_default_to_cuda_visible_devices():
    assert detect_devices({"CUDA_VISIBLE_DEVICES": "2, 5"}) == ["2", "5"]
    assert detect_devices({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_a_lease_dir_that_takes_no_file_is_named_with_the_fix(tmp_path):
    import pytest

    from weakseg.io.errors import WeaksegError

    # procfs: the folder exists, but no file can be created in it (open fails with ENOENT).
    with pytest.raises(WeaksegError, match=r"resources.lease_dir: cannot create the lease file /proc/self/.*writable"):
        with leased_gpu(GpuPool(("0",), 1, "/proc/self"), {}):
            pass
    (tmp_path / "file").write_text("")
    with pytest.raises(WeaksegError, match=r"resources.lease_dir: cannot create .*file/leases"):
        with leased_gpu(GpuPool(("0",), 1, str(tmp_path / "file/leases")), {}):
            pass
