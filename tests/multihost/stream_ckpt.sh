#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# stream_ckpt.sh: one TCP connection between two namespace hosts, both
# directions full at the moment of every checkpoint (tcpstream -L / -C:
# each side writes megabytes without reading, then reads the other's),
# kept without TCP_REPAIR: drained through the coordinator.
#
#   stream_ckpt.sh --tc TRACE_CKPT --stream TCPSTREAM [--size BYTES_PER_ROUND]
#
# 1. a leave-running dump --all-hosts: both sides go on, every byte checked
#    (what was read out for the image went back, in order, before anything new)
# 2. dump --all-hosts --kill, restore --all-hosts: both sides go on from their
#    ticks, every byte of the stream checked across the restore
# Exit: 0 pass, 1 fail, 77 skip (not root, no namespaces).

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TC=
STREAM=
SIZE=4194304
while [ $# -gt 0 ]; do
	case $1 in
	--tc) TC=$2; shift 2 ;;
	--stream) STREAM=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	*) echo "stream_ckpt.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
{ [ -n "$TC" ] && [ -n "$STREAM" ]; } || { echo "usage: stream_ckpt.sh --tc PATH --stream PATH" >&2; exit 2; }
TC=$(realpath "$TC")
STREAM=$(realpath "$STREAM")

PREFIX=tcst
OCTET=$((160 + $$ % 40))
PORT=7799
WORK=$(mktemp -d /tmp/tc-mh-stream.XXXXXX)
PREFIXES="$PREFIX"
source "$HERE/lib.sh"
COORD=10.$OCTET.0.1:$PORT
SECRET=$WORK/secret
# The drain path, whatever this machine allows (README, "Without root").
export TRACE_CKPT_TCP=drain

up "$PREFIX" 2 "$OCTET"
log "2 hosts up (10.$OCTET.0.1-2); work directory $WORK"
start_coordinator "$PREFIX" "$COORD" "$WORK/coord.log"

declare -A RUN_PID
start_side() {
	local i=$1 role=$2
	# shellcheck disable=SC2016  # "$0" "$@" are the inner sh's
	host_exec "$i" "$TC" run --coordinator "$COORD" --secret "$SECRET" -- \
		/bin/sh -c 'exec "$0" "$@" >>"'"$WORK/side$i.out"'"' "$STREAM" \
		"$role" "10.$OCTET.0.1:7711" -n 100000 -i 30 -s "$SIZE" 2>"$WORK/run$i.err" &
	PIDS+=("$!")
	RUN_PID[$i]=$!
}
start_side 1 -L
start_side 2 -C
for i in 1 2; do wait_until 60 "side $i ticking" has_ticks "$WORK/side$i.out" 3; done
no_bad() {
	local i
	for i in 1 2; do
		grep -a '^BAD' "$WORK/side$i.out" && fail "side $i: $(grep -a -m1 '^BAD' "$WORK/side$i.out")"
	done
	return 0
}

# 1. Leave-running, three times: each side gets its bytes back and goes on.
for g in 1 2 3; do
	for i in 1 2; do AT[i]=$(last_tick "$WORK/side$i.out"); done
	host_exec 1 "$TC" dump --all-hosts --coordinator "$COORD" --secret "$SECRET" -D "$WORK/run-img" \
		>"$WORK/dump$g.out" 2>&1 || fail "dump --all-hosts (leave running): $(cat "$WORK/dump$g.out")"
	for i in 1 2; do wait_until 60 "side $i after dump $g" has_ticks "$WORK/side$i.out" $((AT[i] + 3)); done
	no_bad
done
log "3 dumps, the stream ran on: $(head -1 "$WORK/dump3.out")"

# 2. Killed, restored.
host_exec 1 "$TC" dump --all-hosts --coordinator "$COORD" --secret "$SECRET" -D "$WORK/img" --kill \
	>"$WORK/dump.out" 2>&1 || fail "dump --all-hosts --kill: $(cat "$WORK/dump.out")"
for i in 1 2; do
	wait "${RUN_PID[$i]}"
	rc=$?
	[ $rc = 137 ] || fail "run on host $i exited $rc, not 137"
	BEFORE[i]=$(last_tick "$WORK/side$i.out")
done
log "killed at ticks ${BEFORE[*]}; $(head -1 "$WORK/dump.out")"
"$TC" show --key "$SECRET" "$WORK/img" >"$WORK/show.out" 2>&1 || fail "show: $(head -3 "$WORK/show.out")"
grep -q 'drained' "$WORK/show.out" || fail "show: no drained connection: $(grep -i tcp "$WORK/show.out" | head -3)"

host_exec 1 "$TC" restore --all-hosts --coordinator "$COORD" --secret "$SECRET" "$WORK/img" \
	>"$WORK/restore.out" 2>"$WORK/restore.err" &
PIDS+=("$!")
wait_until 120 "the release" grep -q "released together\|failed" "$WORK/restore.err"
grep -q "released together" "$WORK/restore.err" || fail "restore --all-hosts: $(cat "$WORK/restore.err")"
for i in 1 2; do wait_until 60 "side $i after the restore" has_ticks "$WORK/side$i.out" $((BEFORE[i] + 3)); done
no_bad
for i in 1 2; do ticks_from "$WORK/side$i.out" 1 "side $i across the restore"; done
log "ok: both sides went on from ticks ${BEFORE[*]}, every byte of both directions checked"
exit 0
