#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mpi_ckpt.sh: a real MPI job (Open MPI, 4 ranks over 2 namespace hosts, ssh
# launcher) under `trace-ckpt run --coordinator`: mpirun's ssh to the second
# host is carried into the computation (its orted and ranks join), the job
# is checkpointed mid-run with dump --all-hosts --kill, restored with restore
# --all-hosts, and finishes: ticks go on from where they were and rank 0
# checks the final result against the one an uninterrupted run computes.
#
#   mpi_ckpt.sh --tc TRACE_CKPT [--rootless]
# --rootless: mpirun, the dump and the restore as the test user
# ($TC_TEST_USER, else tctest), through its own ssh; TCP drained.
# Exit: 0 pass, 1 fail, 77 skip (not root, no namespaces, no Open MPI).

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TC=
AS_USER=
AS=()
while [ $# -gt 0 ]; do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--rootless) AS_USER=${TC_TEST_USER:-tctest}; shift ;;
	*) echo "mpi_ckpt.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ -n "$TC" ] || { echo "usage: mpi_ckpt.sh --tc PATH" >&2; exit 2; }
{ command -v mpicc.openmpi >/dev/null && command -v mpirun.openmpi >/dev/null; } ||
	{ echo "SKIP: Open MPI (openmpi-bin, libopenmpi-dev) is not installed"; exit 77; }

PREFIX=tcmp
[ -z "$AS_USER" ] || PREFIX=tcmu
N=2
OCTET=$((200 + $$ % 20))
COORD=10.$OCTET.0.1:7796
WORK=$(mktemp -d /tmp/tc-mh-mpi.XXXXXX)
PREFIXES="$PREFIX"
source "$HERE/lib.sh"
SECRET=$WORK/secret
ROUNDS=1500

mpicc.openmpi -O2 -Wall -Wextra -Werror -o "$WORK/mpi_ring" "$HERE/mpi_ring.c" || fail "mpicc"
up "$PREFIX" "$N" "$OCTET"
STATE=$(hosts_state "$PREFIX")
log "$N hosts up; work directory $WORK"
# The ssh that mpirun and the restore use: root's, or the test user's own.
SSHBIN=$STATE/bin
if [ -n "$AS_USER" ]; then
	as_user_setup "$AS_USER" "$PREFIX"
	SSHBIN=$WORK/ubin
fi
start_coordinator "$PREFIX" "$COORD" "$WORK/coord.log"

MPIRUN=(mpirun.openmpi --allow-run-as-root -np 4 --host "${PREFIX}1:2,${PREFIX}2:2"
	--mca pml ob1 --mca btl "self,vader,tcp" --mca btl_tcp_if_include eth0
	--mca oob_tcp_if_include eth0 --mca mpi_yield_when_idle 1
	"$WORK/mpi_ring" -n "$ROUNDS" -i 10)
host_exec 1 ${AS[@]+"${AS[@]}"} env PATH="$SSHBIN:$PATH" OMPI_MCA_plm_rsh_agent="$SSHBIN/ssh" \
	"$TC" run --coordinator "$COORD" --secret "$SECRET" -- "${MPIRUN[@]}" \
	>"$WORK/run.out" 2>"$WORK/run.err" </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 60 "the job to tick" has_ticks "$WORK/run.out" 30
wait_until 30 "both hosts in the computation" hosts_joined 2
log "mpirun runs 4 ranks on 2 hosts, each host's part supervised (tick $(last_tick "$WORK/run.out"))"

host_exec 1 ${AS[@]+"${AS[@]}"} "$TC" dump --all-hosts --coordinator "$COORD" --secret "$SECRET" -D "$WORK/img" --kill \
	>"$WORK/dump.out" 2>&1 || fail "dump --all-hosts: $(cat "$WORK/dump.out")"
log "$(head -1 "$WORK/dump.out")"
wait "$RUN"
rc=$?
[ $rc = 137 ] || fail "run exited $rc, not 137"
BEFORE=$(last_tick "$WORK/run.out")
log "killed at tick $BEFORE"

host_exec 1 ${AS[@]+"${AS[@]}"} env PATH="$SSHBIN:$PATH" "$TC" restore --all-hosts --coordinator "$COORD" \
	--secret "$SECRET" "$WORK/img" >"$WORK/restore.out" 2>"$WORK/restore.err" </dev/null &
RESTORE=$!
PIDS+=("$RESTORE")
wait_until 120 "the release" grep -q "released together\|failed" "$WORK/restore.err"
grep -q "released together" "$WORK/restore.err" || fail "restore --all-hosts: $(cat "$WORK/restore.err")"
wait_until 120 "the job to finish" grep -q '^PASS' "$WORK/restore.out"
wait "$RESTORE"
rc=$?
[ $rc = 0 ] || fail "restore --all-hosts exited $rc"
grep -a '^BAD' "$WORK/restore.out" && fail "BAD after the restore"
first=$(first_tick "$WORK/restore.out")
{ [ -n "$first" ] && [ "$first" -le $((BEFORE + 1)) ]; } ||
	fail "the restored job started at tick ${first:-none}, the dump was at $BEFORE"
ticks_from "$WORK/restore.out" "$first" "after the restore"
[ "$(last_tick "$WORK/restore.out")" = "$ROUNDS" ] || fail "the job did not reach round $ROUNDS"
log "ok: $(grep -a '^result' "$WORK/restore.out"), the same as an uninterrupted run (rank 0 checks it)"
exit 0
