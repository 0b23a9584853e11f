#!/bin/sh
# Scale-out under MPI (issue "mpi" §4): the same outputs on 1, 2 and 3 ranks as without a
# launcher and as the build without MPI (every number in results.json less its provenance
# block, every other output byte for byte); every rank computes groups; a rank killed
# mid-report, resumed on another number of ranks, gives the same outputs; a config error
# stops every rank with exit 2.  Ranks run with shared-memory transport only, as a
# container allows; root needs Open MPI's consent.
. "$top_srcdir/tests/cli/lib.sh"

if ! "$INFBENCH" --version | grep -q '^MPI: Open MPI'; then
  echo "1..0 # SKIP infbench was built without MPI (configure --with-mpi; apt-get install libopenmpi-dev openmpi-bin)"
  exit 0
fi
mpirun=${MPIRUN:-$(command -v mpirun)}
if [ -z "$mpirun" ] || [ ! -x "$mpirun" ]; then
  echo "1..0 # SKIP mpirun not found (apt-get install openmpi-bin)"
  exit 0
fi
plan 25

# Open MPI's settings for a container: shared memory only, no CPU binding, more ranks
# than cores, no single-copy (ptrace) mechanism; as root, its explicit consent.
OMPI_MCA_btl=self,vader
OMPI_MCA_btl_vader_single_copy_mechanism=none
OMPI_MCA_rmaps_base_oversubscribe=1
OMPI_MCA_hwloc_base_binding_policy=none
# The ASan pass: Open MPI's components stay loaded and stacks are unwound in full, so that
# its own leaks are told apart by library (tests/openmpi-lsan.supp), never infbench's.
OMPI_MCA_mca_base_component_disable_dlclose=1
ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export OMPI_MCA_btl OMPI_MCA_btl_vader_single_copy_mechanism OMPI_MCA_rmaps_base_oversubscribe \
  OMPI_MCA_hwloc_base_binding_policy OMPI_MCA_mca_base_component_disable_dlclose ASAN_OPTIONS
if [ "$(id -u)" = 0 ]; then
  OMPI_ALLOW_RUN_AS_ROOT=1
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
fi

# mpi NP ARGS...: infbench ARGS... on NP ranks, with the environment settings of $mpi_env
# (a fault to inject); $rc, $out, $err as run_cmd's.
mpi_env=
mpi() {
  _np=$1
  shift
  # shellcheck disable=SC2086
  env $mpi_env "$mpirun" -np "$_np" "$INFBENCH" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

# ranks_in DIR JOB-PATTERN: the ranks that computed a group of the matching jobs.
ranks_in() {
  awk -F '\t' -v pat="$2" '!/^#/ && $1 ~ pat { print $3 }' "$1/schedule.log" | sort -u | tr '\n' ' '
}

vae="$fixtures/run-mpi-vae.ini"
run_cmd run "$vae" -o "$tmp/plain" --quiet
[ "$rc" = 0 ]; ok $? "the VAE without a launcher (exit $rc)"
for np in 1 2 3; do
  mpi "$np" run "$vae" -o "$tmp/np$np" --quiet
  [ "$rc" = 0 ] && same_run "$tmp/plain" "$tmp/np$np"
  ok $? "the VAE on $np rank(s): the same outputs as without a launcher (exit $rc)"
done
if [ -n "${INFBENCH_NOMPI:-}" ]; then
  "$INFBENCH_NOMPI" --version | grep -q '^MPI: no' &&
    "$INFBENCH_NOMPI" run "$vae" -o "$tmp/nompi" --quiet >/dev/null 2>&1 &&
    same_run "$tmp/nompi" "$tmp/np3"
  ok $? "the build without MPI gives the outputs of 3 ranks"
else
  skip "no build without MPI to compare with (INFBENCH_NOMPI; .ci/run builds one)"
fi
is "0 1 2 " "$(ranks_in "$tmp/np3" 'L\[q\]|q\*|IWAE|AIS')" "3 ranks: every rank computed groups"
for phase in 'L\[q\]' 'q\*' 'IWAE \(encoder\)' 'IWAE \(q\*\)' 'AIS'; do
  got=$(ranks_in "$tmp/np3" "train: $phase\$")
  case $got in "0 1 2 "|"1 2 "|"0 2 "|"0 1 ") r=0 ;; *) r=1 ;; esac
  ok $r "3 ranks: the groups of $phase (train) ran on more than one rank ($got)"
done
python_json "$tmp/np3/results.json" '
p = d["program"]
assert p["ranks"] == 3 and p["mpi"].startswith("Open MPI") and p["threads"] == 1, p'
ok $? "results.json's provenance names the 3 ranks, Open MPI, and 1 thread per rank"

# The linear-Gaussian model: its Monte-Carlo L[q] and numeric q* in groups of 2 points.
lg="$fixtures/run-lingauss.ini"
run_cmd run "$lg" -o "$tmp/lg-plain" --quiet --set qstar.batch_points=2
rc1=$rc
mpi 3 run "$lg" -o "$tmp/lg3" --quiet --set qstar.batch_points=2
[ "$rc1" = 0 ] && [ "$rc" = 0 ] && same_run "$tmp/lg-plain" "$tmp/lg3"
ok $? "lingauss on 3 ranks: the same outputs as without a launcher (exit $rc1, $rc)"
is "0 1 2 " "$(ranks_in "$tmp/lg3" 'L\[q\] and q\*')" "lingauss, 3 ranks: every rank computed groups"

# K = 2: the quadrature too, each box and grid a job of groups of 2 points.
set -- --set evaluate.points=12 --set qstar.batch_points=2
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/k2-plain" --quiet "$@"
rc1=$rc
mpi 3 run "$fixtures/run-vae.ini" -o "$tmp/k2-3" --quiet "$@"
[ "$rc1" = 0 ] && [ "$rc" = 0 ] && same_run "$tmp/k2-plain" "$tmp/k2-3"
ok $? "K = 2 on 3 ranks: the same outputs, quadrature included (exit $rc1, $rc)"
is "0 1 2 " "$(ranks_in "$tmp/k2-3" 'quadrature')" "K = 2, 3 ranks: every rank computed quadrature groups"
set --

# BDMC on simulated points: each temperature setting in groups of row tiles.
set -- --set bdmc.points=12 --set "bdmc.temperatures=10, 30" --set ais.chains=4 \
  --set ais.pilot_chains=2 --set ais.tile_points=2 --set evaluate.points=5 --set ais.points=4
run_cmd run "$vae" -o "$tmp/bdmc-plain" --quiet "$@"
rc1=$rc
mpi 3 run "$vae" -o "$tmp/bdmc3" --quiet "$@"
[ "$rc1" = 0 ] && [ "$rc" = 0 ] && same_run "$tmp/bdmc-plain" "$tmp/bdmc3"
ok $? "BDMC on 3 ranks: the same outputs as without a launcher (exit $rc1, $rc)"
is "0 1 2 " "$(ranks_in "$tmp/bdmc3" '^BDMC')" "BDMC, 3 ranks: every rank computed groups"
set --

# A rank other than 0 killed after its second group (mpirun then stops the job), then
# resumed on 3 ranks; rank 0 killed between groups on 3 ranks, resumed without MPI.
mpi_env=INFBENCH_KILL_AT=par-group:2
mpi 2 run "$vae" -o "$tmp/kill1" --quiet
rc1=$rc
mpi_env=
mpi 3 run --resume "$tmp/kill1" --quiet
[ "$rc1" != 0 ] && [ "$rc" = 0 ] && same_run "$tmp/plain" "$tmp/kill1"
ok $? "rank 1 killed at its second group (exit $rc1), resumed on 3 ranks: the same outputs"
mpi_env=INFBENCH_KILL_AT=gap-group:3
mpi 3 run "$vae" -o "$tmp/kill0" --quiet
rc1=$rc
mpi_env=
run_cmd run --resume "$tmp/kill0" --quiet
[ "$rc1" != 0 ] && [ "$rc" = 0 ] && same_run "$tmp/plain" "$tmp/kill0"
ok $? "rank 0 killed at its third group (exit $rc1), resumed without MPI: the same outputs"

# SIGTERM to rank 0 between two groups (paused there; what scancel or a Ctrl-C on mpirun
# sends it): the run stops with the groups recorded, and --resume on 2 ranks ends with the
# same outputs.
pause_launch="$mpirun -np 3"
paused_run gap-group:4 'kill -TERM "$pause_pid"' run "$vae" -o "$tmp/term" --quiet
pause_launch=
rc1=$rc
mpi 2 run --resume "$tmp/term" --quiet
[ "$paused" = 1 ] && [ "$rc1" != 0 ] && [ "$rc" = 0 ] && same_run "$tmp/plain" "$tmp/term"
ok $? "SIGTERM to rank 0 mid-report (exit $rc1), resumed on 2 ranks: the same outputs"

# A config error: rank 0 says so once, every rank stops with exit 2.
printf '[experiment]\nseed = 1\nbogus = 3\n' >"$tmp/bad.ini"
mpi 3 run "$tmp/bad.ini" -o "$tmp/bad"
is 2 "$rc" "a config error on 3 ranks exits 2"
n=$(printf '%s\n' "$err" | grep -c "bad.ini:3: unknown key 'bogus' in \[experiment\]")
is 1 "$n" "and FILE:LINE is printed once, by rank 0"

# A rank that stops answering (paused on a FIFO nobody reads): rank 0 gives up after
# [experiment] group_timeout, naming the rank and its node, and stops every rank.
mkfifo "$tmp/nobody"
mpi_env="INFBENCH_PAUSE_AT=par-group:1 INFBENCH_PAUSE_FIFO=$tmp/nobody"
mpi 2 run "$vae" -o "$tmp/hang" --quiet --set experiment.group_timeout=3
mpi_env=
[ "$rc" != 0 ] && printf '%s\n' "$err" | grep -q "rank 1 on $(hostname)[^ ]* did not answer for group"
ok $? "a rank that does not answer stops the run, named with its node (exit $rc)"

# More ranks than groups: fine, and said once.
mpi 3 run "$vae" -o "$tmp/few" --set evaluate.points=5 --set ais.points=4
[ "$rc" = 0 ] && [ "$(printf '%s\n' "$err" | grep -c 'ranks had no group')" = 1 ]
ok $? "5 points on 3 ranks: idle ranks noted once (exit $rc)"
[ $tap_failed -eq 0 ]
