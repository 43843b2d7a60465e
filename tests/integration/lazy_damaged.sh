#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# lazy_damaged.sh TRACE_CKPT BIGMEM: restore --lazy of an image damaged where
# the program's memory is (a byte flipped in the middle of its core file).
# The program may start -- the damage is in pages left to be served -- but
# it is never given the wrong page: the page server finds the piece's
# checksum wrong, poisons the page and kills the process, and says so in
# the supervisor's log; the program prints no BAD (it saw nothing wrong),
# restore ends with the program's death (137, or 135 when its touch of the
# poisoned page came first), nothing is left running.
# Without --lazy the same image is refused before anything starts.  The
# restore's pid has a stale log of an earlier supervisor: the reason must
# not go there.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
BIGMEM=$(readlink -f "$2")
WORK=$(mktemp -d /tmp/tc-lazy-damaged.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
"$TC" run -- "$BIGMEM" -s 64M -n 100000 -i 20 >"$WORK/run.out" 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "ticks" has_ticks "$WORK/run.out" 3
PROG=$(prog_in "$WORK" "$BIGMEM")
[ -n "$PROG" ] || fail "no bigmem"
"$TC" dump "$PROG" -D "$WORK/img" --kill >/dev/null || fail "dump --kill"
wait "$RUN"

# One byte in the middle of the core: inside the 64 MiB the program checks.
CORE=$(find "$WORK/img" -name 'proc-*.core' | head -n 1)
SIZE=$(stat -c %s "$CORE")
OFF=$((SIZE / 2))
BYTE=$(od -An -tu1 -j "$OFF" -N1 "$CORE" | tr -d ' ')
printf '%b' "\\$(printf '%03o' $(((BYTE + 1) % 256)))" |
	dd of="$CORE" bs=1 seek="$OFF" count=1 conv=notrunc status=none

if "$TC" restore "$WORK/img" >"$WORK/plain.out" 2>&1 </dev/null; then
	fail "the damaged image restored: $(cat "$WORK/plain.out")"
fi
grep -q "checksum mismatch (damaged)" "$WORK/plain.out" || fail "plain: $(cat "$WORK/plain.out")"
echo "without --lazy: $(grep -m1 "checksum mismatch" "$WORK/plain.out")"

# Its pid had a log of an earlier supervisor (pids come round): the page
# server must write into this restore's log, not into that one.
RDIR=/run/trace-ckpt
[ "$(id -u)" = 0 ] || RDIR=${XDG_RUNTIME_DIR:-/nonexistent}/trace-ckpt
mkdir -p "$RDIR" 2>/dev/null
# shellcheck disable=SC2016  # expanded by the inner shell, whose pid restore keeps
bash -c '[ -d "$1" ] && echo "an earlier supervisor of this pid" >"$1/$$.log"; exec "$2" restore --lazy "$3"' \
	_ "$RDIR" "$TC" "$WORK/img" >"$WORK/lazy.out" 2>"$WORK/lazy.err" </dev/null &
RESTORE=$!
PIDS+=("$RESTORE")
wait_until 60 "restore --lazy to end" test ! -e "/proc/$RESTORE"
wait "$RESTORE"
RC=$?
cat "$WORK/lazy.err"
# SIGKILL from the server, or SIGBUS if it touched the poisoned page first.
[ "$RC" = 137 ] || [ "$RC" = 135 ] ||
	fail "restore --lazy exited $RC, expected 137 or 135 (the program killed)"
if grep -q '^BAD' "$WORK/lazy.out"; then
	fail "the program was given a wrong page: $(grep '^BAD' "$WORK/lazy.out")"
fi
# Said in the supervisor's log, or on restore's stderr when it came before
# the restore had one (the program may touch the page at once).
LOG=$(sed -n "s/.*what the supervisor had to say while the program ran: \(.*\) ([0-9]* lines\{0,1\})$/\1/p" "$WORK/lazy.err")
WHERE=("$WORK/lazy.err")
[ -z "$LOG" ] || WHERE+=("$LOG")
grep -qh "checksum mismatch (damaged); killed, never given a wrong page" "${WHERE[@]}" ||
	fail "neither restore nor its log says why: $(cat "${WHERE[@]}")"
grep -h -m1 "never given a wrong page" "${WHERE[@]}"
[ -z "$LOG" ] || rm -f "$LOG"
grep -q "never given a wrong page" "$RDIR/$RESTORE.log.old" 2>/dev/null &&
	fail "the page server wrote into the log an earlier supervisor of the pid left"
rm -f "$RDIR/$RESTORE.log.old"
echo PASS
