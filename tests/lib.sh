# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tests/lib.sh: what the shell tests share (tests/integration/*.sh,
# tests/multihost/lib.sh), one copy each.  Source it first thing; it only
# defines functions and PIDS.
#
#   WORK     the test's work directory: fail shows the end of the outputs there
#   PIDS     the processes the test started, for kill_pids on exit
#   fail_details   a function the test may define: more to show when it fails

PIDS=()

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }

now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((10#$t / 1000))
}

# alive PID: exists and is not a zombie
alive() {
	local st
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# prog_in DIR EXE: the first process whose working directory is DIR and whose
# executable is EXE (both absolute, as readlink shows them): the program a
# test started there, found below whatever supervisor and init it has
prog_in() {
	local f p
	for f in /proc/[0-9]*/cwd; do
		p=${f#/proc/}
		p=${p%/cwd}
		[ "$(readlink "$f" 2>/dev/null)" = "$1" ] &&
			[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$2" ] && { echo "$p"; return; }
	done
}

# kill_tree SIGNAL PID: PID and every process below it, children first (a
# supervisor killed alone leaves its computation running, as promised)
kill_tree() {
	local c kids
	kids=$(cat /proc/"$2"/task/*/children 2>/dev/null)
	for c in $kids; do
		kill_tree "$1" "$c"
	done
	kill -"$1" "$2" 2>/dev/null
	return 0
}

# kill_pids [SIGNAL]: send SIGNAL (default KILL) to every process in PIDS and
# to everything below them
kill_pids() {
	local p
	for p in "${PIDS[@]}"; do kill_tree "${1:-KILL}" "$p"; done
	return 0
}

# fail WHAT...: say what failed, with the end of every output of the test
# (WORK/*.out, *.err, *.log, and one directory down), and stop.
fail() {
	local f
	log "FAIL: $*"
	if [ -n "${WORK:-}" ]; then
		for f in "$WORK"/*.out "$WORK"/*.err "$WORK"/*.log "$WORK"/*/*.out "$WORK"/*/*.err; do
			[ -f "$f" ] || continue
			echo "----- $f (last 12 lines)"
			tail -n 12 "$f"
		done
	fi
	if declare -F fail_details >/dev/null; then
		fail_details
	fi
	exit 1
}

# wait_until SECONDS WHAT CMD...: until CMD succeeds, or fail after SECONDS
# (polling, no fixed sleeps).
wait_until() {
	local end=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || fail "timed out waiting for $what"
		sleep 0.05
	done
}

# ---- the output of the test programs (tests/integration/tc_test.h):
# READY, "tick N" with N up by one, BAD ..., PASS.

last_tick() { grep -a -E '^tick [0-9]+$' "$1" 2>/dev/null | tail -n 1 | cut -d' ' -f2; }
first_tick() { grep -a -m1 -E '^tick [0-9]+$' "$1" 2>/dev/null | cut -d' ' -f2; }
has_tick() { [ -n "$(first_tick "$1")" ]; }
# has_ticks FILE N: the last tick of FILE is N or more
has_ticks() { local t; t=$(last_tick "$1"); [ -n "$t" ] && [ "$t" -ge "$2" ]; }
# tick_lines_at_least FILE N: FILE has N tick lines or more (a file a
# restored program appends to has ticks again from an earlier number)
tick_lines_at_least() { [ "$(grep -ac '^tick ' "$1")" -ge "$2" ]; }
has_pass() { grep -q '^PASS$' "$1"; }

# consecutive FILE: each tick of FILE is the one before + 1
consecutive() {
	awk '/^tick [0-9]+$/ { n = $2 + 0; if (seen && n != prev + 1) exit 1; prev = n; seen = 1 }' "$1"
}

# ticks_from FILE FIRST WHAT [SKIP]: the tick lines of FILE (after its first
# SKIP of them, default 0) count up by one from FIRST; fail otherwise.
ticks_from() {
	local file=$1 first=$2 what=$3 skip=${4:-0}
	grep -a '^tick ' "$file" | tail -n +$((skip + 1)) | awk -v f="$first" -v what="$what" '
		{ if ($2 != f + NR - 1) { printf "%s: tick %s where %d was due\n", what, $2, f + NR - 1; bad = 1; exit } }
		END { exit bad }' || fail "$what: ticks not consecutive"
}

# refused_dump NAME DUMP-ARG SETUP WANT [AFTER]: a python3 program ($PY)
# runs SETUP, says READY and waits for a line on stdin; `dump PID -D
# WORK/NAME.img [DUMP-ARG]` must fail saying WANT (a grep pattern) and
# leave no image; then the program runs AFTER (python; an assertion about
# its state) and must say ALIVE.  Wants TC, PY, WORK; the program goes into
# PIDS.
refused_dump() {
	local name=$1 how=$2 setup=$3 want=$4 after=${5:-pass} sup pid out
	mkfifo "$WORK/$name.in"
	printf 'import sys\n%s\nprint("READY", flush=True)\nsys.stdin.readline()\n%s\nprint("ALIVE", flush=True)\n' \
		"$setup" "$after" >"$WORK/$name.py"
	"$TC" run -- "$PY" "$WORK/$name.py" <"$WORK/$name.in" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	sup=$!
	PIDS+=("$sup")
	exec 9>"$WORK/$name.in"
	wait_until 20 "$name: READY" grep -qs '^READY$' "$WORK/$name.out"
	pid=$("$TC" list | awk -v s="(supervisor $sup," 'index($0, s) { print $1 }')
	[ -n "$pid" ] || fail "$name: supervisor $sup not listed"
	if out=$("$TC" dump "$pid" -D "$WORK/$name.img" ${how:+"$how"} 2>&1); then
		fail "$name: the dump was not refused: $out"
	fi
	grep -q -- "$want" <<<"$out" || fail "$name: expected '$want', got: $out"
	[ ! -e "$WORK/$name.img" ] || fail "$name: an image was left"
	echo >&9
	exec 9>&-
	wait_until 20 "$name: the program going on (ALIVE)" grep -qs '^ALIVE$' "$WORK/$name.out"
	log "$name: $out"
}
