#!/usr/bin/env bash
# A single-node SLURM on 127.0.0.1 from Debian's packages, for the SLURM test (tests/test_slurm.py).
#   bash .ci/slurm.sh start     # install if needed (root), start munged, slurmctld, slurmd
#   bash .ci/slurm.sh stop      # stop them by the PIDs recorded at start
#   bash .ci/slurm.sh packages  # the Debian packages it needs (.ci/run installs them with others)
# No systemd: the daemons run in the background, their PIDs in $WEAKSEG_SLURM_DIR/*.pid.
# The node advertises 16 CPUs, 64 GB and two fake GPUs (device files linked to /dev/null)
# whatever the machine has (SlurmdParameters=config_overrides), so the profile's own requests
# (4 CPUs per GPU, 32 GB for train) are accepted as they are and can be read back from SLURM.
# A second partition, small (2 CPUs, 60 min), takes jobs over its limits and leaves them pending
# for ever (EnforcePartLimits=NO, the default): the SLURM test's job that can never start.
# Memory is enforced the way a cluster without cgroups does it (jobacct_gather/linux with
# OverMemoryKill, sampled every second): a job over its memory is killed and ends FAILED, with
# slurmstepd's "Exceeded job memory limit" in its log (the SLURM test's job over its memory).
# No job accounting (no slurmdbd): jobs are followed with squeue, kept MinJobAge=3600 s (the
# benchmark reads the records of a whole demo study from scontrol).
# The configuration goes to /etc/slurm/slurm.conf, where every SLURM client finds it (the
# jobstep plugin drops SLURM_CONF from the srun inside a job); a slurm.conf that this script
# did not write is never touched: then nothing starts. stop removes the configuration it wrote:
# left behind, it would point every SLURM client at a dead controller, and the SLURM executor
# plugin asks scontrol for its defaults on every Snakemake start (9 s each until it gives up).
set -euo pipefail

DIR="${WEAKSEG_SLURM_DIR:-/tmp/weakseg-slurm}"
CONF_DIR=/etc/slurm
MARK="# written by weakseg .ci/slurm.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)

packages() {
  echo "${PACKAGES[@]}"
}

start() {
  if ! command -v slurmctld >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "slurm.sh: SLURM is not installed and apt-get is unavailable (not root): not started" >&2
      return 0
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
  fi
  if [ -f "$CONF_DIR/slurm.conf" ] && ! grep -qx "$MARK" "$CONF_DIR/slurm.conf"; then
    echo "slurm.sh: $CONF_DIR/slurm.conf exists and is not ours: a real cluster? not started" >&2
    return 0
  fi
  stop 2>/dev/null || true
  rm -rf "$DIR"
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/dev" "$DIR/munge"
  ln -s /dev/null "$DIR/dev/nvidia0"
  ln -s /dev/null "$DIR/dev/nvidia1"
  mkdir -p "$CONF_DIR"
  cat >"$CONF_DIR/slurm.conf" <<EOF
$MARK
ClusterName=weakseg
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobAcctGatherFrequency=task=1
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=16 RealMemory=64000 Gres=gpu:2 State=UNKNOWN
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=small Nodes=localhost MaxCPUsPerNode=2 MaxTime=60 State=UP
EOF
  cat >"$CONF_DIR/gres.conf" <<EOF
$MARK
NodeName=localhost Name=gpu File=$DIR/dev/nvidia[0-1]
EOF
  # munged: its own key and socket in $DIR, so nothing of the machine's is touched.
  dd if=/dev/urandom bs=1 count=1024 of="$DIR/munge/munge.key" status=none
  chmod 400 "$DIR/munge/munge.key"
  chmod 700 "$DIR/munge"
  munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munge.seed"
  slurmctld -D >>"$DIR/log/slurmctld.out" 2>&1 &
  echo $! >"$DIR/slurmctld.daemon.pid"
  slurmd -D -N localhost >>"$DIR/log/slurmd.out" 2>&1 &
  echo $! >"$DIR/slurmd.daemon.pid"
  for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
      echo "slurm.sh: SLURM cluster weakseg up on 127.0.0.1 ($CONF_DIR/slurm.conf)"
      return 0
    fi
    sleep 1
  done
  echo "slurm.sh: SLURM did not come up; logs in $DIR/log" >&2
  tail -n 20 "$DIR"/log/*.log >&2 || true
  stop
  return 1
}

stop() {
  # Each daemon gets SIGTERM, then up to 10 s to exit (slurmctld saves its state), then SIGKILL.
  for name in slurmd.daemon slurmctld.daemon munged; do
    if [ -f "$DIR/$name.pid" ]; then
      pid=$(cat "$DIR/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$DIR/$name.pid"
    fi
  done
  for conf in "$CONF_DIR/slurm.conf" "$CONF_DIR/gres.conf"; do
    if [ -f "$conf" ] && grep -qx "$MARK" "$conf"; then
      rm -f "$conf"
    fi
  done
}

"${1:?usage: slurm.sh start|stop|packages}"
