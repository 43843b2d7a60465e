#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# vfork_dumps.sh TRACE_CKPT SPAWNER: 40 leave-running dumps of a program that
# posix_spawns (a vfork) all the time, each of which must succeed -- a dump
# that stops the child before its exec must still stop the parent, which
# waits for that exec in the kernel -- then dump --kill and restore, to PASS.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
SPAWNER=$(readlink -f "$2")
WORK=$(mktemp -d /tmp/tc-vfork.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
"$TC" run -- "$SPAWNER" -n 100000 >"$WORK/run.out" 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "ticks" has_ticks "$WORK/run.out" 2
PROG=$(prog_in "$WORK" "$SPAWNER")
[ -n "$PROG" ] || fail "no spawner"
for i in $(seq 40); do
	"$TC" dump "$PROG" -D "$WORK/img" >"$WORK/dump.out" 2>&1 ||
		fail "dump $i of 40: $(cat "$WORK/dump.out")"
done
echo "40 leave-running dumps: $(grep -o 'frozen [0-9.]* ms' "$WORK/dump.out") the last"
LAST=$(last_tick "$WORK/run.out")
"$TC" dump "$PROG" -D "$WORK/img" --kill >/dev/null || fail "dump --kill"
wait "$RUN"
LAST=$(last_tick "$WORK/run.out")
"$TC" restore "$WORK/img" >"$WORK/restore.out" 2>&1 </dev/null &
PIDS+=("$!")
wait_until 60 "ticks after the restore" has_ticks "$WORK/restore.out" $((LAST + 3))
grep -q '^BAD' "$WORK/restore.out" && fail "$(grep -m1 '^BAD' "$WORK/restore.out")"
FIRST=$(first_tick "$WORK/restore.out")
[ "$FIRST" = $((LAST + 1)) ] || fail "restored at tick $FIRST, expected $((LAST + 1))"
echo PASS
