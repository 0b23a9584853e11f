#!/bin/sh
# infbench as one MPI job under Slurm: the ranks share the VAE gap reports' groups of
# points, rank 0 alone trains and writes the run directory, and the outputs are the
# same as on one machine (infbench(1), CLUSTERS).  Submit from the repository root:
#
#   sbatch experiments/cluster/slurm-infbench.sh
#   CONFIG=experiments/fashion-ffg.ini OUT=/shared/$USER/runs/ffg \
#       sbatch experiments/cluster/slurm-infbench.sh
#
# One script starts the run and resumes it: when Slurm requeues the job (a failed
# node, preemption) or you submit it again after the time limit, DIR/config.ini
# exists and the job runs infbench run --resume DIR, which goes on under any number
# of ranks from the groups of points already recorded.  A finished run is left alone
# (exit status 0).
#
# Ranks and threads: --ntasks ranks, each on --cpus-per-task cores and as many
# infbench threads (--threads; infbench does not read OMP_NUM_THREADS).
#SBATCH --job-name=infbench
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=16
#SBATCH --cpus-per-task=1
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=infbench-%j.out

set -eu

# The experiment, the run directory and the program.  OUT must be on a file system
# that every node sees: after a requeue, rank 0 may run on another node.
CONFIG=${CONFIG:-experiments/fashion-ffg.ini}
OUT=${OUT:-/shared/$USER/runs/$(basename "$CONFIG" .ini)}
INFBENCH=${INFBENCH:-infbench}
# srun (Slurm's PMIx plugin: srun --mpi=list shows pmix) or mpirun (Open MPI's, which
# takes its ranks and nodes from the allocation).
LAUNCHER=${LAUNCHER:-srun}

THREADS=${SLURM_CPUS_PER_TASK:-1}
# Slurm 22.05 and later: srun no longer inherits --cpus-per-task from sbatch.
export SRUN_CPUS_PER_TASK="$THREADS"

# Nodes of unlike CPUs: every rank must run rank 0's OpenBLAS kernel set (infbench
# stops at the start otherwise, naming the node and the set to use).
# export OPENBLAS_CORETYPE=Haswell

if [ -e "$OUT/config.ini" ]; then
  set -- run --resume "$OUT"
else
  # --force: a directory left by a job stopped before it wrote config.ini.
  mkdir -p "$(dirname "$OUT")"
  set -- run "$CONFIG" -o "$OUT" --force
fi
set -- "$@" --threads "$THREADS"

echo "infbench job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}): $SLURM_NTASKS ranks" \
  "of $THREADS threads: $*"
case $LAUNCHER in
  srun)
    exec srun --mpi=pmix "$INFBENCH" "$@"
    ;;
  mpirun)
    exec mpirun --map-by "slot:PE=$THREADS" ${OPENBLAS_CORETYPE:+-x OPENBLAS_CORETYPE} \
      "$INFBENCH" "$@"
    ;;
  *)
    echo "LAUNCHER=$LAUNCHER: use srun or mpirun" >&2
    exit 2
    ;;
esac
