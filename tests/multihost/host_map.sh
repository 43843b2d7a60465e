#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# host_map.sh: a TCP ring over 3 namespace hosts checkpointed, the hosts
# gone, and the computation restored on 3 other hosts with other addresses
# (restore --all-hosts --host-map OLD=NEW,...): every node goes on from its
# tick, its connections now on the new addresses.
#
#   host_map.sh --tc TRACE_CKPT --ring RING [--rootless]
# --rootless: every trace-ckpt command as the test user ($TC_TEST_USER, else
# tctest), the connections drained, the restore through the user's ssh.
# Exit: 0 pass, 1 fail, 77 skip (not root, no namespaces).

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TC=
RING=
N=3
AS_USER=
AS=()
while [ $# -gt 0 ]; do
	case $1 in
	--tc) TC=$2; shift 2 ;;
	--ring) RING=$2; shift 2 ;;
	--rootless) AS_USER=${TC_TEST_USER:-tctest}; shift ;;
	*) echo "host_map.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
{ [ -n "$TC" ] && [ -n "$RING" ]; } || { echo "usage: host_map.sh --tc PATH --ring PATH" >&2; exit 2; }
TC=$(realpath "$TC")
RING=$(realpath "$RING")

PREFIX=tcma
PREFIX_B=tcmb
[ -z "$AS_USER" ] || { PREFIX=tcua; PREFIX_B=tcub; }
OCTET=$((40 + $$ % 20))
OCTET_B=$((60 + $$ % 20))
PORT=7795
WORK=$(mktemp -d /tmp/tc-mh-map.XXXXXX)
PREFIXES="$PREFIX $PREFIX_B"
source "$HERE/lib.sh"
COORD=10.$OCTET.0.1:$PORT
SECRET=$WORK/secret
ROUNDS=100000

up "$PREFIX" "$N" "$OCTET"
log "$N hosts up (10.$OCTET.0.1-$N); work directory $WORK"
[ -z "$AS_USER" ] || as_user_setup "$AS_USER" "$PREFIX"
start_coordinator "$PREFIX" "$COORD" "$WORK/coord.log"
declare -A RUN_PID
for i in $(seq 1 "$N"); do
	next=$(( i % N + 1 ))
	# shellcheck disable=SC2016  # "$0" "$@" are the inner sh's
	hosts_exec "$PREFIX" "$i" ${AS[@]+"${AS[@]}"} "$TC" run --coordinator "$COORD" --secret "$SECRET" -- \
		/bin/sh -c 'exec "$0" "$@" >>"'"$WORK/node$i.out"'"' "$RING" --id $((i - 1)) --n "$N" \
		--listen "10.$OCTET.0.$i:7700" --next "10.$OCTET.0.$next:7700" -n "$ROUNDS" -i 20 \
		--timeout-ms 0 2>"$WORK/run$i.err" &
	PIDS+=("$!")
	RUN_PID[$i]=$!
done
for i in $(seq 1 "$N"); do wait_until 60 "node $i ticking" has_ticks "$WORK/node$i.out" 3; done
hosts_exec "$PREFIX" 1 ${AS[@]+"${AS[@]}"} "$TC" dump --all-hosts --coordinator "$COORD" --secret "$SECRET" -D "$WORK/img" --kill \
	>"$WORK/dump.out" 2>&1 || fail "dump --all-hosts: $(cat "$WORK/dump.out")"
log "$(cat "$WORK/dump.out")"
for i in $(seq 1 "$N"); do
	wait "${RUN_PID[$i]}"
	BEFORE[i]=$(last_tick "$WORK/node$i.out")
done
# The old hosts go away entirely; other hosts, other addresses.
hosts_down "$PREFIX" >/dev/null 2>&1
up "$PREFIX_B" "$N" "$OCTET_B"
[ -z "$AS_USER" ] || as_user_authorize "$AS_USER" "$PREFIX_B"
log "hosts $PREFIX gone; $N new hosts up (10.$OCTET_B.0.1-$N)"
COORD_B=10.$OCTET_B.0.1:$PORT
start_coordinator "$PREFIX_B" "$COORD_B" "$WORK/coord-b.log"
MAP=$(for i in $(seq 1 "$N"); do printf '%s%s=10.%s.0.%s' "$([ "$i" = 1 ] || echo ,)" "$PREFIX$i" "$OCTET_B" "$i"; done)
hosts_exec "$PREFIX_B" 1 ${AS[@]+"${AS[@]}"} "$TC" restore --all-hosts --coordinator "$COORD_B" --secret "$SECRET" \
	--host-map "$MAP" "$WORK/img" >"$WORK/restore.out" 2>"$WORK/restore.err" &
PIDS+=("$!")
wait_until 120 "the release" grep -q "released together\|failed" "$WORK/restore.err"
grep -q "released together" "$WORK/restore.err" || fail "restore --all-hosts --host-map $MAP: $(cat "$WORK/restore.err")"
for i in $(seq 1 "$N"); do wait_until 60 "node $i on its new host" has_ticks "$WORK/node$i.out" $((BEFORE[i] + 3)); done
grep -q "host ${PREFIX_B}2 (10.$OCTET_B.0.2) joined" "$WORK/coord-b.log" || fail "node 2 is not on host ${PREFIX_B}2"
for i in $(seq 1 "$N"); do
	grep -a '^BAD' "$WORK/node$i.out" && fail "node $i: BAD"
	ticks_from "$WORK/node$i.out" 1 "node $i across the move"
done
log "ok: the ring moved from 10.$OCTET.0.x to 10.$OCTET_B.0.x ($MAP) and went on"
exit 0
