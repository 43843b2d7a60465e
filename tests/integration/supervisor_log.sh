#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# supervisor_log.sh TRACE_CKPT COUNTER: what the supervisor has to say while
# the program runs goes to its log file, never into the program's terminal,
# and a failure's detail reaches the command the user typed:
#   - a dump that fails (its directory cannot be made) answers with the cause,
#     the lines the supervisor logged meanwhile and where the log is; the
#     program's stderr has none of it and the program runs on;
#   - when the program ends, run says where the log is (it was not empty);
#   - a supervisor whose pid an earlier one had keeps that one's log as .old
#     and counts only its own lines;
#   - a restore that fails in a process being built (its working directory
#     is gone) prints that process's own words under its error, once.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
COUNTER=$(readlink -f "$2")
WORK=$(mktemp -d /tmp/tc-suplog.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

mkdir "$WORK/cwd" && cd "$WORK/cwd" || exit 1
"$TC" run -- "$COUNTER" -n 100000 -i 20 >"$WORK/run.out" 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "ticks" has_ticks "$WORK/run.out" 3
PROG=$(prog_in "$WORK/cwd" "$COUNTER")
[ -n "$PROG" ] || fail "no counter below the supervisor"

# 1. a failed dump: cause, detail and log path in the dump's own output
if "$TC" dump "$PROG" -D /proc/trace-ckpt-no-such-dir >"$WORK/dump1.out" 2>&1; then
	fail "a dump into /proc succeeded: $(cat "$WORK/dump1.out")"
fi
cat "$WORK/dump1.out"
grep -q "^trace-ckpt dump: .*No such file or directory" "$WORK/dump1.out" ||
	fail "no cause in the dump's output"
grep -qE "^  trace-ckpt\[[0-9]+\]: error: .*trace-ckpt-no-such-dir" "$WORK/dump1.out" ||
	fail "the supervisor's detail is not in the dump's output"
LOG=$(sed -n "s/^(the supervisor's log: \(.*\))$/\1/p" "$WORK/dump1.out")
if [ -z "$LOG" ] || [ ! -f "$LOG" ]; then
	fail "no supervisor log named, or it is not there: '$LOG'"
fi
grep -q "trace-ckpt-no-such-dir" "$LOG" || fail "the log $LOG does not have the detail"
[ "$(stat -c %a "$LOG")" = 600 ] || fail "the log $LOG is readable by others"
if grep -aq "trace-ckpt\[" "$WORK/run.out"; then
	fail "the supervisor wrote into the program's stderr: $(grep -a "trace-ckpt\[" "$WORK/run.out")"
fi
T=$(last_tick "$WORK/run.out")
wait_until 30 "ticks after the failed dump" has_ticks "$WORK/run.out" $((T + 3))

# 2. the program ends: run says where the log is
"$TC" dump "$PROG" -D "$WORK/img" --kill >/dev/null || fail "dump --kill"
wait "$RUN"
grep -q "what the supervisor had to say while the program ran: $LOG (1 line)" "$WORK/run.out" ||
	fail "run did not point at its log: $(tail -n 3 "$WORK/run.out")"
rm -f "$LOG"

# 2b. a supervisor whose pid had a log (an earlier one's): that log is kept
# as .old, ours is our own (a run that says nothing names no log)
RDIR=$(dirname "$LOG")
# shellcheck disable=SC2016  # expanded by the inner shell, whose pid run keeps
bash -c 'echo "an earlier supervisor of this pid" >"$1/$$.log"; exec "$2" run -- "$3" -n 3 -i 20' \
	_ "$RDIR" "$TC" "$COUNTER" >"$WORK/again.out" 2>&1 </dev/null &
AGAIN=$!
PIDS+=("$AGAIN")
wait_until 30 "the short run to end" test ! -e "/proc/$AGAIN"
wait "$AGAIN" || fail "the short run failed: $(tail -n 3 "$WORK/again.out")"
grep -q "what the supervisor had to say" "$WORK/again.out" &&
	fail "an earlier supervisor's log counted as this one's: $(grep "had to say" "$WORK/again.out")"
grep -q "an earlier supervisor of this pid" "$RDIR/$AGAIN.log.old" ||
	fail "the earlier log was not kept as $RDIR/$AGAIN.log.old"
[ ! -e "$RDIR/$AGAIN.log" ] || fail "this run's empty log $RDIR/$AGAIN.log was not removed"
rm -f "$RDIR/$AGAIN.log.old"

# 3. a restore failing in a process being built says that process's words
cd "$WORK" && rmdir "$WORK/cwd" || exit 1
if "$TC" restore --ignore-changed-files "$WORK/img" >"$WORK/restore.out" 2>&1; then
	fail "restored without the working directory: $(cat "$WORK/restore.out")"
fi
cat "$WORK/restore.out"
[ "$(grep -c "working directory $WORK/cwd" "$WORK/restore.out")" = 1 ] ||
	fail "the process's own words are not under the restore's error, once"
grep -q "^trace-ckpt restore: pid [0-9]*: " "$WORK/restore.out" || fail "no restore error line"
echo PASS
