"""Benchmark a tiny study through profiles/slurm against the same study run locally: wall seconds and their ratio.

Runs the study of tests/test_slurm.py (synthetic demo, 3 scenes of 192 px, strong_only and
full, one seed, a short schedule) in fresh copies of the workflow, alternately locally
(``snakemake --cores 2``) and through SLURM (``--profile profiles/slurm``), with the same
threads per job, and prints each pair and the median ratio. Needs a SLURM cluster
(``bash .ci/slurm.sh start`` as root makes a single-node one on 127.0.0.1). Not a test:

    python benchmarks/slurm.py --pairs 2
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import copy_workflow, snakemake_env  # noqa: E402
from test_slurm import TINY  # noqa: E402

#: Threads of the GPU rules in both runs (2 cores here), so both do the same work.
THREADS = ("train=2", "evaluate=2")


def run(folder: Path, cluster: bool, status_seconds: int) -> float:
    """Wall seconds of the tiny study in a fresh copy under ``folder``, locally or through SLURM."""
    workdir = copy_workflow(folder)
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    snakemake = str(Path(sys.executable).parent / "snakemake")
    options = ["--cores", "2", "--set-threads", *THREADS]
    if cluster:
        options = [
            *("--profile", "profiles/slurm", "--sdm", "env-modules", "--set-threads", *THREADS),
            *("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", str(status_seconds)),
        ]
    started = time.monotonic()
    result = subprocess.run(
        [snakemake, *options, "--configfile", "tiny.yaml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=snakemake_env(),
        timeout=1800,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"{'SLURM' if cluster else 'local'} run failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return seconds


def main() -> None:
    """Run the pairs and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2, help="local/SLURM pairs, alternating")
    parser.add_argument(
        "--status-seconds", type=int, default=2, help="the plugin's --slurm-init-seconds-before-status-checks"
    )
    args = parser.parse_args()
    if shutil.which("sbatch") is None:
        sys.exit("no SLURM here: bash .ci/slurm.sh start (as root) starts a single-node cluster")
    ratios = []
    print("pair  local s  SLURM s  ratio")
    with tempfile.TemporaryDirectory() as scratch:
        for pair in range(args.pairs):
            local = run(Path(scratch) / f"local-{pair}", False, args.status_seconds)
            cluster = run(Path(scratch) / f"slurm-{pair}", True, args.status_seconds)
            ratios.append(cluster / local)
            print(f"{pair:4d}  {local:7.1f}  {cluster:7.1f}  {ratios[-1]:5.2f}")
    print(f"median ratio SLURM / local: {statistics.median(ratios):.2f} over {len(ratios)} pair(s)")


if __name__ == "__main__":
    main()
