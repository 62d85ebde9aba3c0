"""Benchmark a study through profiles/slurm against the same study run locally, wave by wave.

Runs a study (``tiny``: the study of tests/test_slurm.py, 3 scenes of 192 px, strong_only and
full, one seed, a 2-step schedule; ``demo``: the default demo study of workflow_config.yaml) in
fresh copies of the workflow, locally (``snakemake --cores 2``) and through SLURM with the same
threads per job, and prints the wall seconds, their ratio and, per wave of SLURM jobs (the jobs
submitted together once the previous wave was noticed as finished):

- queue wait: submission to start (SLURM's SubmitTime and StartTime of the job that waited longest);
- in-job start: the job's start to its first rule starting (the job's SLURM log: Snakemake's start);
- detection: the wave's last job ending (SLURM's EndTime) to Snakemake logging it finished.

``--executor slurm`` runs the SLURM plugin as it is (profile otherwise the same) for comparison;
``--init`` sets the first status check (seconds). Needs a SLURM cluster (``bash .ci/slurm.sh
start`` as root makes a single-node one on 127.0.0.1). Not a test:

    python benchmarks/slurm.py --study tiny --pairs 2
    python benchmarks/slurm.py --study tiny --executor slurm --init 40     # the plugin as it is
"""

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import copy_workflow, snakemake_env  # noqa: E402
from test_slurm import TINY, _jobs_of  # noqa: E402

#: Threads of the GPU rules in both runs. One each: the CI cluster's node claims 16 CPUs on the
#: 2-core VM and runs two GPU jobs at once (two fake GPUs), so two-thread jobs would put 4 torch
#: threads on 2 cores, where OpenMP's spinning threads made a 24-s training take 5 min. With one
#: thread, both runs do the same work: two jobs at once on 2 cores (``--cores 2`` locally).
THREADS = ("train=1", "evaluate=1", "pseudo_masks=1")
STUDIES = {"tiny": TINY, "demo": None}
STAMP = r"\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]"


def run(folder: Path, study: str, cluster: tuple[str, int] | None) -> tuple[float, Path, str]:
    """Wall seconds, work folder and Snakemake's output of ``study`` locally or through SLURM."""
    workdir = copy_workflow(folder)
    options = []
    if STUDIES[study] is not None:
        (workdir / "study.yaml").write_text(yaml.safe_dump(STUDIES[study]))
        options = ["--configfile", "study.yaml"]
    snakemake = str(Path(sys.executable).parent / "snakemake")
    if cluster is None:
        command = [snakemake, "--cores", "2", "--set-threads", *THREADS, *options]
    else:
        executor, init = cluster
        prefix = f"--{executor}-"
        command = [snakemake, "--profile", "profiles/slurm", "--executor", executor, "--sdm", "env-modules"]
        command += ["--set-threads", *THREADS, f"{prefix}status-command", "squeue"]
        command += [f"{prefix}init-seconds-before-status-checks", str(init), f"{prefix}keep-successful-logs", *options]
    started = time.monotonic()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=snakemake_env(), timeout=7200)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"{'SLURM' if cluster else 'local'} run failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return seconds, workdir, result.stdout + result.stderr


def _stamp(text: str) -> datetime:
    return datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")


def finish_stamps(output: str) -> list[datetime]:
    """When Snakemake logged a rule job finished, in order: a status check that found jobs ended."""
    stamps, stamp = [], None
    for line in output.splitlines():
        if match := re.match(STAMP, line.strip()):
            stamp = _stamp(match.group(1))
        elif line.startswith("Finished jobid:") and stamp is not None:
            stamps.append(stamp)
    return sorted(stamps)


def first_rule(log: Path) -> datetime | None:
    """When the Snakemake inside a SLURM job started its first rule (from the job's SLURM log)."""
    match = re.search(STAMP + r"\n(?:local)?rule ", log.read_text(errors="replace")) if log.exists() else None
    return _stamp(match.group(1)) if match else None


def waves(workdir: Path, output: str) -> list[dict]:
    """Per wave of SLURM jobs: jobs, queue wait, in-job start and detection delay (seconds)."""
    # A check queries every active job, so a job is noticed by the first finish logged after it ended.
    stamps = finish_stamps(output)
    jobs = []
    for job in _jobs_of(workdir):
        times = {key: datetime.fromisoformat(job[key]) for key in ("SubmitTime", "StartTime", "EndTime")}
        seen = next(stamp for stamp in stamps if stamp >= times["EndTime"])
        jobs.append({**times, "id": job["JobId"], "rule": first_rule(Path(job["StdOut"])), "seen": seen})
    jobs.sort(key=lambda job: job["SubmitTime"])
    grouped: list[list[dict]] = []
    for job in jobs:  # a wave: submitted after the previous wave's first job was noticed as finished
        if grouped and job["SubmitTime"] < min(j["seen"] for j in grouped[-1]):
            grouped[-1].append(job)
        else:
            grouped.append([job])
    rows = []
    for wave in grouped:
        last = max(wave, key=lambda job: job["EndTime"])
        rows.append(
            {
                "jobs": len(wave),
                "queue": max((j["StartTime"] - j["SubmitTime"]).total_seconds() for j in wave),
                "start": max(((j["rule"] or j["StartTime"]) - j["StartTime"]).total_seconds() for j in wave),
                "detection": (last["seen"] - last["EndTime"]).total_seconds(),
                "wall": (max(j["seen"] for j in wave) - wave[0]["SubmitTime"]).total_seconds(),
            }
        )
    return rows


def main() -> None:
    """Run the pairs and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", choices=sorted(STUDIES), default="tiny")
    parser.add_argument("--pairs", type=int, default=1, help="local/SLURM pairs, alternating")
    parser.add_argument("--executor", choices=("slurm-weakseg", "slurm"), default="slurm-weakseg")
    parser.add_argument("--init", type=int, default=5, help="seconds before the first status check")
    args = parser.parse_args()
    if shutil.which("sbatch") is None:
        sys.exit("no SLURM here: bash .ci/slurm.sh start (as root) starts a single-node cluster")
    ratios = []
    with tempfile.TemporaryDirectory() as scratch:
        for pair in range(args.pairs):
            local, _, _ = run(Path(scratch) / f"local-{pair}", args.study, None)
            cluster, workdir, output = run(Path(scratch) / f"slurm-{pair}", args.study, (args.executor, args.init))
            ratios.append(cluster / local)
            print(f"\npair {pair}: {args.study}, {args.executor}, first check after {args.init} s")
            print(f"local {local:.1f} s, SLURM {cluster:.1f} s, SLURM / local {ratios[-1]:.2f}")
            print("wave  jobs  queue s  in-job start s  detection s  wave wall s")
            for number, row in enumerate(waves(workdir, output)):
                print(
                    f"{number:4d}  {row['jobs']:4d}  {row['queue']:7.0f}  {row['start']:14.0f}  "
                    f"{row['detection']:11.0f}  {row['wall']:11.0f}"
                )
    print(f"\nmedian ratio SLURM / local: {statistics.median(ratios):.2f} over {len(ratios)} pair(s)")


if __name__ == "__main__":
    main()
