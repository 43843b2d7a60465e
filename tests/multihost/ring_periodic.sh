#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ring_periodic.sh: the coordinator checkpoints a TCP ring over 3 namespace
# hosts by itself (coordinator --interval 1 -D DIR --keep 2); every node is
# then killed at once (a crash); restore --all-hosts DIR starts every node
# again from the checkpoint before the latest (restore --generation), and the
# coordinator goes on
# checkpointing the restored ring.
#
#   ring_periodic.sh --tc TRACE_CKPT --ring RING
#
# Checked: DIR/manifest's generation grows; each host keeps its 2 latest
# parts (<host>.g1 goes) and DIR/manifest.gN the 2 latest manifests; the
# restore is of the generation before the latest (--generation); after it
# each node's first tick falls
# between 1 and the tick it crashed at + 1, its ticks are consecutive from
# there, no BAD; a checkpoint later than the restored one is taken.
# Exit: 0 pass, 1 fail, 77 skip (not root, no namespaces).

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TC=
RING=
N=3
while [ $# -gt 0 ]; do
	case $1 in
	--tc) TC=$2; shift 2 ;;
	--ring) RING=$2; shift 2 ;;
	*) echo "ring_periodic.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
{ [ -n "$TC" ] && [ -n "$RING" ]; } || { echo "usage: ring_periodic.sh --tc PATH --ring PATH" >&2; exit 2; }
TC=$(realpath "$TC")
RING=$(realpath "$RING")

PREFIX=tcrp
OCTET=$((80 + ($$ + 17) % 40))
PORT=7793
WORK=$(mktemp -d /tmp/tc-mh-periodic.XXXXXX)
PREFIXES="$PREFIX"
source "$HERE/lib.sh"
COORD=10.$OCTET.0.1:$PORT
SECRET=$WORK/secret
IMG=$WORK/img

up "$PREFIX" "$N" "$OCTET"
log "$N hosts up (10.$OCTET.0.1-$N); work directory $WORK"
start_coordinator "$PREFIX" "$COORD" "$WORK/coord.log" --interval 1 -D "$IMG" --keep 2

declare -a RUN_PID CRASHED CRASH_SIZE
for i in $(seq 1 "$N"); do
	next=$(( i % N + 1 ))
	# shellcheck disable=SC2016  # "$0" "$@" are the inner sh's
	host_exec "$i" "$TC" run --coordinator "$COORD" --secret "$SECRET" -- \
		/bin/sh -c 'exec "$0" "$@" >>"'"$WORK/node$i.out"'"' "$RING" --id $((i - 1)) --n "$N" \
		--listen "10.$OCTET.0.$i:7700" --next "10.$OCTET.0.$next:7700" -n 100000 -i 20 \
		--timeout-ms 0 2>"$WORK/run$i.err" &
	PIDS+=("$!")
	RUN_PID[i]=$!
done

generation() { "$TC" show --key "$SECRET" "$IMG" 2>/dev/null | sed -n 's/.*generation \([0-9]*\).*/\1/p' | head -n1; }
# shellcheck disable=SC2317  # called through wait_until
generation_at_least() { local g; g=$(generation); [ -n "$g" ] && [ "$g" -ge "$1" ]; }
# shellcheck disable=SC2317  # called through wait_until
no_first_generation() { ! ls -d "$IMG"/*.g1 >/dev/null 2>&1; }

wait_until 60 "a third checkpoint by the coordinator" generation_at_least 3
wait_until 10 "generation 1 to go (--keep 2)" no_first_generation
for i in $(seq 1 "$N"); do
	parts=$(find "$IMG" -maxdepth 1 -name "$PREFIX$i.g*" | wc -l)
	# 2 kept, and maybe the next one being written
	{ [ "$parts" -ge 2 ] && [ "$parts" -le 3 ]; } || fail "host $i has $parts parts in $IMG"
done
# shellcheck disable=SC2012  # a listing for the log only
log "checkpoints by the coordinator: generation $(generation); $(ls "$IMG" | tr '\n' ' ')"

# The crash: every node's program at once.
host_exec 1 "$TC" list --all-hosts --coordinator "$COORD" --secret "$SECRET" >"$WORK/list.out" ||
	fail "list --all-hosts"
crash_programs "$WORK/list.out" "$N"
for i in $(seq 1 "$N"); do
	wait "${RUN_PID[$i]}"
	CRASHED[i]=$(last_tick "$WORK/node$i.out")
	CRASH_SIZE[i]=$(stat -c %s "$WORK/node$i.out")
done
gen=$(generation)
# The one before the latest: kept (--keep 2), with its own manifest.
old=$((gen - 1))
# shellcheck disable=SC2012  # a listing for the message only
{ [ -f "$IMG/manifest.g$gen" ] && [ -f "$IMG/manifest.g$old" ]; } ||
	fail "no manifest.g$gen and manifest.g$old in $IMG: $(ls "$IMG" | tr '\n' ' ')"
[ -e "$IMG/manifest.g$((gen - 2))" ] && fail "manifest.g$((gen - 2)) is still there with --keep 2"
if host_exec 1 "$TC" restore --all-hosts --generation 999 --coordinator "$COORD" --secret "$SECRET" \
	"$IMG" >"$WORK/nogen.out" 2>&1; then
	fail "restore --generation 999 succeeded"
fi
grep -q "manifest.g999" "$WORK/nogen.out" || fail "restore --generation 999: $(cat "$WORK/nogen.out")"
log "every node killed at: ${CRASHED[*]}; restoring generation $old of $gen"

host_exec 1 "$TC" restore --all-hosts --generation "$old" --coordinator "$COORD" --secret "$SECRET" "$IMG" \
	>"$WORK/restore.out" 2>"$WORK/restore.err" &
PIDS+=("$!")
wait_until 120 "the release" grep -q "released together\|failed" "$WORK/restore.err"
grep -q "released together" "$WORK/restore.err" || fail "restore --all-hosts: $(cat "$WORK/restore.err")"
for i in $(seq 1 "$N"); do
	f=$WORK/node$i.out
	lines=$(head -c "${CRASH_SIZE[$i]}" "$f" | grep -ac '^tick ')
	wait_until 60 "node $i after the restore" tick_lines_at_least "$f" $((lines + 3))
	first=$(grep -a '^tick ' "$f" | sed -n "$((lines + 1))s/^tick //p")
	{ [ "$first" -gt 1 ] && [ "$first" -le $((CRASHED[i] + 1)) ]; } ||
		fail "node $i: first tick after the restore $first; it crashed at tick ${CRASHED[$i]}"
	ticks_from "$f" "$first" "node $i after the restore" "$lines"
	tail -c +$((CRASH_SIZE[i] + 1)) "$f" | grep -a '^BAD' &&
		fail "node $i after the restore: $(tail -c +$((CRASH_SIZE[i] + 1)) "$f" | grep -a -m1 '^BAD')"
done
log "restored from generation $old: every node went on"
wait_until 30 "a checkpoint of the restored ring" generation_at_least $((gen + 1))
log "ok: the coordinator checkpoints the restored ring too (generation $(generation))"
exit 0
