#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ring_ckpt.sh: a TCP ring over N namespace hosts, checkpointed as one
# computation and restarted.
#
#   ring_ckpt.sh --tc TRACE_CKPT --ring RING [--hosts N] [--size 64M] [--bench]
#                [--crash]
#
# 1. hosts up; a coordinator on host 1; on every host a ring node run by
#    `trace-ckpt run --coordinator` (its output in a file of its own)
# 2. a command without the secret is refused, and the coordinator says so
# 3. dump --all-hosts --kill: every run exits 137; show lists N hosts
# 4. restore --all-hosts from host 1: every node goes on from the tick it had
#    (one file per node: ticks consecutive across the restore), to PASS
# With --crash, 3 and 4 are instead: dump --all-hosts (the ring runs on), a
# few more ticks, then every node killed with SIGKILL (a crash: the ring's
# connections close and sit in TIME_WAIT); restore --all-hosts: every node
# starts again from the tick it had at the dump, ticks consecutive from there.
# With --bench: prints "hosts N checkpoint MS restart MS" and skips the checks
# that take time.  With --user NAME (--rootless: $TC_TEST_USER, else tctest) every trace-ckpt command runs as that
# ordinary user (its connections between hosts drained, its restore reaching
# the other hosts with an ssh key of its own), so the whole computation is
# checkpointed and restored without root.
# Exit: 0 pass, 1 fail, 77 skip (not root, no namespaces).

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TC=
RING=
N=3
SIZE=
BENCH=0
CRASH=0
AS_USER=
AS=()
while [ $# -gt 0 ]; do
	case $1 in
	--tc) TC=$2; shift 2 ;;
	--ring) RING=$2; shift 2 ;;
	--hosts) N=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	--bench) BENCH=1; shift ;;
	--crash) CRASH=1; shift ;;
	--user) AS_USER=$2; shift 2 ;;
	--rootless) AS_USER=${TC_TEST_USER:-tctest}; shift ;;
	*) echo "ring_ckpt.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
{ [ -n "$TC" ] && [ -n "$RING" ]; } || { echo "usage: ring_ckpt.sh --tc PATH --ring PATH" >&2; exit 2; }
TC=$(realpath "$TC")
RING=$(realpath "$RING")


PREFIX=tcrk
[ $CRASH = 1 ] && PREFIX=tcrc
[ -n "$AS_USER" ] && PREFIX=tcru
OCTET=$((80 + $$ % 40))
PORT=$((7790 + CRASH))
WORK=$(mktemp -d /tmp/tc-mh-ring.XXXXXX)
PREFIXES="$PREFIX"
source "$HERE/lib.sh"
COORD=10.$OCTET.0.1:$PORT
SECRET=$WORK/secret
ROUNDS=100000

up "$PREFIX" "$N" "$OCTET"
log "$N hosts up (10.$OCTET.0.1-$N); work directory $WORK"

# The ordinary user: its own work directory, ssh key and ssh in its PATH.
[ -z "$AS_USER" ] || as_user_setup "$AS_USER" "$PREFIX"

start_coordinator "$PREFIX" "$COORD" "$WORK/coord.log"

start_node() {
	local i=$1 next=$(( $1 % N + 1 ))
	local args=(--id $((i - 1)) --n "$N" --listen "10.$OCTET.0.$i:7700"
		    --next "10.$OCTET.0.$next:7700" -n "$ROUNDS" -i 20 --timeout-ms 0)
	[ -n "$SIZE" ] && args+=(-s "$SIZE")
	# stdout is a file of the node's own, so it goes on in the same file after a restore.
	# shellcheck disable=SC2016  # "$0" "$@" are the inner sh's
	host_exec "$i" ${AS[@]+"${AS[@]}"} "$TC" run --coordinator "$COORD" --secret "$SECRET" -- \
		/bin/sh -c 'exec "$0" "$@" >>"'"$WORK/node$i.out"'"' "$RING" "${args[@]}" \
		2>"$WORK/run$i.err" &
	PIDS+=("$!")
	RUN_PID[$i]=$!
}
declare -A RUN_PID
for i in $(seq 1 "$N"); do start_node "$i"; done
for i in $(seq 1 "$N"); do wait_until 60 "node $i ticking" has_ticks "$WORK/node$i.out" 3; done
log "ring running: $(for i in $(seq 1 "$N"); do printf 'node%s@%s ' "$i" "$(last_tick "$WORK/node$i.out")"; done)"

# A command that does not know the secret gets nothing.
if [ $BENCH = 0 ]; then
	head -c 32 /dev/urandom >"$WORK/wrong"
	chmod 600 "$WORK/wrong"
	[ -z "$AS_USER" ] || chown "$AS_USER:" "$WORK/wrong"
	if host_exec 1 ${AS[@]+"${AS[@]}"} "$TC" dump --all-hosts --coordinator "$COORD" --secret "$WORK/wrong" \
		-D "$WORK/bad-img" >"$WORK/wrong.out" 2>&1; then
		fail "a dump with the wrong secret was taken"
	fi
	grep -q "does not take our secret" "$WORK/wrong.out" || fail "wrong secret: $(cat "$WORK/wrong.out")"
	wait_until 5 "the coordinator to log the refusal" grep -q "refused a connection" "$WORK/coord.log"
	[ -e "$WORK/bad-img" ] && fail "an image directory was made for the unauthenticated command"
	log "a command without the secret was refused"
	host_exec 1 ${AS[@]+"${AS[@]}"} "$TC" list --all-hosts --coordinator "$COORD" --secret "$SECRET" >"$WORK/list.out" ||
		fail "list --all-hosts"
	[ "$(grep -c . "$WORK/list.out")" = "$N" ] || fail "list --all-hosts shows $(grep -c . "$WORK/list.out") hosts"
fi

if [ $CRASH = 1 ]; then
	for i in $(seq 1 "$N"); do BEFORE[i]=$(last_tick "$WORK/node$i.out"); done
	host_exec 1 ${AS[@]+"${AS[@]}"} "$TC" dump --all-hosts --coordinator "$COORD" --secret "$SECRET" -D "$WORK/img" \
		>"$WORK/dump.out" 2>&1 || fail "dump --all-hosts: $(cat "$WORK/dump.out")"
	log "$(cat "$WORK/dump.out")"
	for i in $(seq 1 "$N"); do AFTER[i]=$(last_tick "$WORK/node$i.out"); done
	for i in $(seq 1 "$N"); do wait_until 60 "node $i after the dump" has_ticks "$WORK/node$i.out" $((AFTER[i] + 3)); done
	# The crash: every node at once.
	crash_programs "$WORK/list.out" "$N"
	for i in $(seq 1 "$N"); do
		wait "${RUN_PID[$i]}"
		rc=$?
		# 1: the node saw a neighbour's connection end (BAD) before its own SIGKILL
		[ $rc = 137 ] || [ $rc = 1 ] || fail "run on host $i exited $rc after its node was killed"
		CRASHED[i]=$(grep -ac '^tick ' "$WORK/node$i.out")
		CRASH_SIZE[i]=$(stat -c %s "$WORK/node$i.out")
	done
	log "every node killed at: $(for i in $(seq 1 "$N"); do printf '%s ' "$(last_tick "$WORK/node$i.out")"; done)"
else
	t0=$(date +%s%N)
	host_exec 1 ${AS[@]+"${AS[@]}"} "$TC" dump --all-hosts --coordinator "$COORD" --secret "$SECRET" -D "$WORK/img" --kill \
		>"$WORK/dump.out" 2>&1 || fail "dump --all-hosts: $(cat "$WORK/dump.out")"
	t1=$(date +%s%N)
	log "$(cat "$WORK/dump.out")"
	for i in $(seq 1 "$N"); do
		wait "${RUN_PID[$i]}"
		rc=$?
		[ $rc = 137 ] || fail "run on host $i exited $rc, not 137"
		BEFORE[i]=$(last_tick "$WORK/node$i.out")
	done
	log "every node killed at: ${BEFORE[*]}"
	if [ $BENCH = 0 ]; then
		"$TC" show --key "$SECRET" "$WORK/img" >"$WORK/show.out" 2>&1 || fail "show: $(head -3 "$WORK/show.out")"
		[ "$(grep -c '^host ' "$WORK/show.out")" = "$N" ] || fail "show lists $(grep -c '^host ' "$WORK/show.out") hosts"
	fi
fi

t2=$(date +%s%N)
host_exec 1 ${AS[@]+"${AS[@]}"} "$TC" restore --all-hosts --coordinator "$COORD" --secret "$SECRET" "$WORK/img" \
	>"$WORK/restore.out" 2>"$WORK/restore.err" &
RESTORE=$!
PIDS+=("$RESTORE")
wait_until 120 "the release" grep -q "released together\|failed" "$WORK/restore.err"
grep -q "released together" "$WORK/restore.err" || fail "restore --all-hosts: $(cat "$WORK/restore.err")"
t3=$(date +%s%N)
if [ $CRASH = 1 ]; then
	for i in $(seq 1 "$N"); do
		wait_until 60 "node $i after the restore" tick_lines_at_least "$WORK/node$i.out" $((CRASHED[i] + 3))
		first=$(grep -a '^tick ' "$WORK/node$i.out" | sed -n "$((CRASHED[i] + 1))s/^tick //p")
		{ [ "$first" -gt "${BEFORE[$i]}" ] && [ "$first" -le $((AFTER[i] + 1)) ]; } ||
			fail "node $i: first tick after the restore $first; the dump was between ticks ${BEFORE[$i]} and ${AFTER[$i]}"
		ticks_from "$WORK/node$i.out" "$first" "node $i after the restore" "${CRASHED[$i]}"
	done
	for i in $(seq 1 "$N"); do
		tail -c +$((CRASH_SIZE[i] + 1)) "$WORK/node$i.out" | grep -a '^BAD' &&
			fail "node $i after the restore: $(tail -c +$((CRASH_SIZE[i] + 1)) "$WORK/node$i.out" | grep -a -m1 '^BAD')"
	done
	log "ok: every node started again from the dump after the crash"
	exit 0
fi
for i in $(seq 1 "$N"); do wait_until 60 "node $i after the restore" has_ticks "$WORK/node$i.out" $((BEFORE[i] + 3)); done
log "restored; ticking again: $(for i in $(seq 1 "$N"); do printf 'node%s@%s ' "$i" "$(last_tick "$WORK/node$i.out")"; done)"

if [ $BENCH = 1 ]; then
	grep -h "checkpoint of" "$WORK/dump.out" || true
	echo "hosts $N checkpoint $(( (t1 - t0) / 1000000 )) ms restart $(( (t3 - t2) / 1000000 )) ms"
	exit 0
fi

# Every node: no BAD, ticks consecutive from 1 through the restore.
for i in $(seq 1 "$N"); do
	grep -a '^BAD' "$WORK/node$i.out" && fail "node $i: $(grep -a '^BAD' "$WORK/node$i.out" | head -1)"
	ticks_from "$WORK/node$i.out" 1 "node $i across the restore"
done
log "ok: $N nodes went on from where they were, every tick checked"
exit 0
