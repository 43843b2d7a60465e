#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# periodic.sh TRACE_CKPT COUNTER [--incremental]: run --interval 1 --keep 2 takes checkpoints
# by itself while the program runs; the program then crashes (SIGKILL).
# restore DIR goes on from the latest checkpoint and restore DIR.1 from the
# one before (an earlier tick, generation one less); DIR.2 never exists.
# Both restored programs run to PASS with every tick checked.  With
# --incremental each checkpoint after the first stores only what changed,
# and the latest must say so.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
PROG=$(readlink -f "$2")
INCR=()
[ "${3:-}" = --incremental ] && INCR=(--incremental)
WORK=$(mktemp -d /tmp/tc-periodic.XXXXXX)
trap kill_pids EXIT
generation() { "$TC" show "$1" 2>/dev/null | sed -n 's/.*generation \([0-9]*\),.*/\1/p'; }
# shellcheck disable=SC2317  # called through wait_until
generation_at_least() { local g; g=$(generation "$1"); [ -n "$g" ] && [ "$g" -ge "$2" ]; }

cd "$WORK" || exit 1
"$TC" run --dir img --interval 1 --keep 2 "${INCR[@]}" -- "$PROG" -n 400 -i 20 >run.out 2>run.err </dev/null &
RUN=$!
PIDS+=("$RUN")
# Three checkpoints: the first one has been rotated out by now.
wait_until 30 "a third periodic checkpoint" generation_at_least img 3
[ -e img.2 ] && fail "img.2 exists with --keep 2"
g=$(generation img)
g1=$(generation img.1)
{ [ -n "$g1" ] && [ "$g1" -lt "$g" ]; } || fail "img.1 has generation ${g1:-none}, img has $g"
grep -q '^PASS' run.out && fail "the program finished before the crash: give it more ticks"
if [ ${#INCR[@]} -gt 0 ]; then
	"$TC" show img 2>&1 | grep -q 'incremental: pages of earlier generations' ||
		fail "img (generation $g) stored everything with run --incremental"
fi
# The crash: every process of the computation killed at once.
# shellcheck disable=SC2046
kill -KILL $(pgrep -P "$RUN")
wait "$RUN"
rc=$?
[ "$rc" -eq 137 ] || fail "run exited $rc after its program was killed, expected 137"
crashed=$(last_tick run.out)
echo "crashed at tick $crashed; images: img generation $g, img.1 generation $g1"

for d in img img.1; do
	"$TC" restore "$d" >"restore-$d.out" 2>"restore-$d.err" </dev/null &
	PIDS+=("$!")
	wait_until 30 "the first tick of $d" has_tick "restore-$d.out"
	wait_until 60 "PASS from $d" has_pass "restore-$d.out"
	grep -q '^BAD' "restore-$d.out" && fail "$d: $(grep -m1 '^BAD' "restore-$d.out")"
	consecutive "restore-$d.out" || fail "$d: ticks not consecutive"
done
t0=$(first_tick restore-img.out)
t1=$(first_tick restore-img.1.out)
{ [ "$t0" -gt 1 ] && [ "$t0" -le $((crashed + 1)) ]; } ||
	fail "img went on from tick $t0; the program crashed at tick $crashed"
[ "$t1" -lt "$t0" ] || fail "img.1 went on from tick $t1, not before img's tick $t0"
echo "ok: img went on from tick $t0, img.1 from tick $t1, crash at tick $crashed"
cd / && rm -rf "$WORK"
exit 0
