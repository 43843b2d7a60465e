#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ssh_job.sh: a job that starts its workers with ssh.  On host 1,
#   trace-ckpt run --coordinator C -- sh -c 'ssh h2 ring ... & ssh h3 ring ... & ring ...'
# The ssh execs are caught (a seccomp user notification: nothing is traced,
# TracerPid 0 is checked) and the remote commands start under
# trace-ckpt run, joined to the same coordinator: list --all-hosts shows 3
# hosts.  Then dump --all-hosts --kill and restore --all-hosts; every ring
# node goes on from its tick.
#
#   ssh_job.sh --tc TRACE_CKPT --ring RING
# Exit: 0 pass, 1 fail, 77 skip.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TC=
RING=
while [ $# -gt 0 ]; do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--ring) RING=$(realpath "$2"); shift 2 ;;
	*) echo "ssh_job.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
{ [ -n "$TC" ] && [ -n "$RING" ]; } || { echo "usage: ssh_job.sh --tc PATH --ring PATH" >&2; exit 2; }


PREFIX=tcsj
OCTET=$((120 + $$ % 40))
N=3
COORD=10.$OCTET.0.1:7791
WORK=$(mktemp -d /tmp/tc-mh-ssh.XXXXXX)
PREFIXES="$PREFIX"
source "$HERE/lib.sh"
SECRET=$WORK/secret

up "$PREFIX" "$N" "$OCTET"
STATE=$(hosts_state "$PREFIX")
log "$N hosts up; work directory $WORK"
start_coordinator "$PREFIX" "$COORD" "$WORK/coord.log"

node() {	# node I: the ring command of node I, its output in WORK/nodeI.out
	local i=$1 next=$(( $1 % N + 1 ))
	printf '%s --id %d --n %d --listen 10.%d.0.%d:7700 --next 10.%d.0.%d:7700 -n 100000 -i 20 --timeout-ms 0 >>%s/node%d.out' \
		"$RING" $((i - 1)) "$N" "$OCTET" "$i" "$OCTET" "$next" "$WORK" "$i"
}
JOB="ssh 10.$OCTET.0.2 '$(node 2)' & ssh 10.$OCTET.0.3 '$(node 3)' & $(node 1); wait"
# The job's own PATH finds the test hosts' ssh (their keys, no known_hosts).
host_exec 1 env PATH="$STATE/bin:$PATH" "$TC" run --coordinator "$COORD" --secret "$SECRET" -- \
	/bin/sh -c "$JOB" >"$WORK/run.out" 2>"$WORK/run.err" &
RUN=$!
PIDS+=("$RUN")
for i in 1 2 3; do wait_until 60 "node $i ticking" has_ticks "$WORK/node$i.out" 3; done
wait_until 20 "3 hosts in the computation" hosts_joined 3
log "the job's workers run on 3 hosts, each under its own supervisor"
# Nothing of the computation is traced between checkpoints: the ssh exec is
# held by a seccomp notification, not a ptrace stop.
ring_pids=$(pgrep -f "^$RING --id ")
[ -n "$ring_pids" ] || fail "no ring process found"
for p in $ring_pids; do
	tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	[ "${tracer:-0}" = 0 ] || fail "ring process $p is traced by $tracer between checkpoints"
done
log "none of the $(echo "$ring_pids" | wc -w) ring processes is traced (TracerPid 0)"
grep -q "joined: pid" "$WORK/coord.log" || fail "no host joined"

host_exec 1 "$TC" dump --all-hosts --coordinator "$COORD" --secret "$SECRET" -D "$WORK/img" --kill \
	>"$WORK/dump.out" 2>&1 || fail "dump --all-hosts: $(cat "$WORK/dump.out")"
log "$(cat "$WORK/dump.out")"
grep -q "checkpoint of 3 hosts" "$WORK/dump.out" || fail "not every host was in the checkpoint"
wait "$RUN"
for i in 1 2 3; do BEFORE[i]=$(last_tick "$WORK/node$i.out"); done
log "killed at: ${BEFORE[*]}"

host_exec 1 env PATH="$STATE/bin:$PATH" "$TC" restore --all-hosts --coordinator "$COORD" \
	--secret "$SECRET" "$WORK/img" >"$WORK/restore.out" 2>"$WORK/restore.err" &
PIDS+=("$!")
wait_until 120 "the release" grep -q "released together\|failed" "$WORK/restore.err"
grep -q "released together" "$WORK/restore.err" || fail "restore --all-hosts: $(cat "$WORK/restore.err")"
for i in 1 2 3; do wait_until 60 "node $i after the restore" has_ticks "$WORK/node$i.out" $((BEFORE[i] + 3)); done
for i in 1 2 3; do
	grep -a '^BAD' "$WORK/node$i.out" && fail "node $i: BAD"
	ticks_from "$WORK/node$i.out" 1 "node $i across the restore"
done
log "ok: the ssh-started job went on from where it was on all 3 hosts"
exit 0
