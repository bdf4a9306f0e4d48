#!/usr/bin/env bash
# Stop the one-node Slurm cluster started by .ci/slurm-up.sh (slurmd, slurmctld, munged), by their pid files.
set -uo pipefail
scancel --user=root 2>/dev/null || true
for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
  if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
done
echo "slurm: stopped"
