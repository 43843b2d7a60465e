#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# lazy_refused.sh TRACE_CKPT COUNTER: where restore --lazy cannot be correct
# (an ordinary user: no userfaultfd that sees the kernel's faults, no fork
# events), it is refused by name with the way past it, before anything is
# started; the same image then restores without --lazy and goes on.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
COUNTER=$(readlink -f "$2")
WORK=$(mktemp -d /tmp/tc-lazy-refused.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
if [ "$(id -u)" = 0 ]; then
	echo "SKIP: as root restore --lazy is allowed (this test is for an ordinary user)"
	exit 77
fi
"$TC" run -- "$COUNTER" -n 100000 -i 20 >"$WORK/run.out" 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "ticks" has_ticks "$WORK/run.out" 3
PROG=$(prog_in "$WORK" "$COUNTER")
[ -n "$PROG" ] || fail "no counter"
"$TC" dump "$PROG" -D "$WORK/img" --kill >/dev/null || fail "dump --kill"
wait "$RUN"
LAST=$(last_tick "$WORK/run.out")

if "$TC" restore --lazy "$WORK/img" >"$WORK/lazy.out" 2>&1; then
	fail "restore --lazy ran as uid $(id -u): $(cat "$WORK/lazy.out")"
fi
cat "$WORK/lazy.out"
grep -q "restore --lazy needs .*CAP_SYS_PTRACE.*restore without --lazy" "$WORK/lazy.out" ||
	fail "the refusal does not say why and what to do"
if grep -q '^tick' "$WORK/lazy.out"; then
	fail "the program ran though restore --lazy was refused"
fi

"$TC" restore "$WORK/img" >"$WORK/restore.out" 2>&1 </dev/null &
PIDS+=("$!")
wait_until 30 "ticks after the restore" has_ticks "$WORK/restore.out" $((LAST + 3))
FIRST=$(first_tick "$WORK/restore.out")
[ "$FIRST" = $((LAST + 1)) ] || fail "restored at tick $FIRST, expected $((LAST + 1))"
echo PASS
