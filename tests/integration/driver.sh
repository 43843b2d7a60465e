#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# driver.sh: put one self-verifying program through trace-ckpt and check that
# it resumes from the state it had.
#
#   driver.sh [--tc PATH] [--mode MODE] [--name NAME] [--ticks K] [--gens G]
#             [--dump-timeout S] [--sign PATH] [--keep] [--dump-arg ARG]...
#             [--restore-arg ARG]... [--env NAME=VALUE]...
#             -- PROGRAM ARGS...
#
# --dump-arg ARG is given to every dump (--compress: compressed images),
# --restore-arg ARG to every restore of start_restore (--lazy).
# --env NAME=VALUE is set for all it starts (TRACE_CKPT_SNAPSHOT=copy).
#
# The program speaks the protocol of tc_test.h: READY, "tick N" lines with N
# up by exactly 1, BAD <what> on an inconsistency, PASS at the end.
#
# Modes:
#   basic     run -> K ticks -> dump -D IMG --kill -> run exits 137 ->
#             restore IMG -> PASS, restore exits 0
#   chain     the same with G generations (default 3): every restored
#             computation is dumped --kill again and restored from the new image
#   leave     run --dir D -> dump (no -D, default --leave-running): the original
#             goes on to PASS, and so does a restore of the image, concurrently
#   crash     run -> dump -D IMG (the program runs on) -> K more ticks -> every
#             process of the program killed with SIGKILL at once (a crash: its
#             sockets and pipes close, its TCP connections go to TIME_WAIT) ->
#             restore IMG -> it starts from the dump again, to PASS
#   cli       --help of every command, check, list, show [--json], image
#             permissions, gdb on the core, run's exit status
#   faildump  dump into a directory that cannot be created (and of a PID that
#             does not exist) fails with a message; the program runs on to PASS
#   damage    restore of an image with a flipped byte / truncated core file /
#             truncated manifest fails, names the file, leaves nothing running
#             and does not touch the image; then the intact image restores
#   auth      images are authenticated (needs --sign PATH: sign_manifest):
#             a manifest changed under a good checksum, a core file changed
#             with its checksum put right in the manifest, a manifest without
#             a MAC, another user's key, a key others may read: restore and
#             show refuse each by name and start nothing; crafted hosts in a
#             signed multi-host manifest and in --host-map are refused and
#             nothing they hold runs; then restore --key with the maker's key
#             from another user's config goes on to PASS
#   crafted   crafted fd contents (needs --sign PATH: sign_manifest, and a
#             program with fd contents: pipering -w): a process's content
#             file cut one byte short and a manifest of format version 3,
#             both signed with the maker's key: restore and show refuse each
#             by its message (no crash) and start nothing; then the intact
#             image restores to PASS
#   resleep   dump left running, then dump --kill at once: a sleep the first
#             interrupted is in restart_syscall; after the restore it sleeps on
#   killsup   SIGKILL to the run supervisor: the program runs on, detached
#   silent    run -> silent control clients connect and send nothing -> a
#             dump -D IMG meanwhile finishes in under 2 s and the program
#             (forkstall: forks and takes signals all the time) reports no
#             stall of 1 s or more; the program goes on to PASS
#   staletmp  run (a large program) -> dump, the supervisor killed while it
#             writes -> its temporary directory is left; next to it a
#             directory whose writer lock is held -> the next run into the
#             same place removes the first, a dump there leaves the second,
#             until its lock is let go
#   detach    run -> dump -D IMG --kill -> restore --detach IMG exits 0 at
#             once -> the program, traced by nobody, goes on to PASS
#   debugger  run -> every process of the program has TracerPid 0 between
#             checkpoints -> gdb -p attaches (batch) and detaches -> a dump
#             works -> a tracer of our own (needs --holder PATH: ptholder)
#             holds the program -> a dump refuses, naming the thread, the
#             tracer's pid and command, and both run on -> the tracer ends ->
#             a dump works -> PASS
#   killfrozen run (the cgroup v2 freezer held frozen 3 s after the seize,
#             TRACE_CKPT_HOLD_FROZEN_MS) -> dump -> while the cgroup is frozen
#             the supervisor and its dump worker are killed with SIGKILL -> the
#             freeze guard thaws the cgroup: the program runs on, traced by
#             nobody and not stopped -> the program ends -> the next run
#             removes the cgroup left behind.  Skipped where run cannot make
#             a cgroup (not root, no cgroup2 mount)
#   killdump  run, then attach -> 50 dumps, the supervisor killed with SIGKILL
#             at a random moment of each: the program runs on every time,
#             traced by nobody and not stopped, and the last image written is
#             whole (show); the next round attaches a new supervisor; a
#             last dump into the same place leaves no temporary directory
#   attach    the program started directly in the background (stdout to a
#             file) -> READY -> trace-ckpt attach PID -> K ticks -> dump -D IMG
#             --kill -> attach exits 137 -> restore IMG -> PASS; the restored
#             program goes on writing the same file (or restore's stdout)
#
# Always: no BAD line anywhere; each output's ticks are consecutive; the first
# tick after a restore is the last tick before the dump + 1.
#
# Environment: TRACE_CKPT (the command, if no --tc), TRACE_CKPT_STUB (the
# restorer stub, used to look for leftovers), TC_TEST_TMPDIR (where work
# directories go, default /tmp), TC_KEEP=1 (keep the work directory),
# TC_TIMEOUT_SCALE (multiply every deadline).
# Exit: 0 pass, 1 fail, 77 skip (not root, ptrace not allowed).

set -u
shopt -s nullglob

TC=${TRACE_CKPT:-}
MODE=basic
NAME=
TICKS=5
GENS=3
KEEP=${TC_KEEP:-0}
SCALE=${TC_TIMEOUT_SCALE:-1}
DUMP_TIMEOUT=60
SIGN=
HOLDER=
DUMP_ARGS=()
RESTORE_ARGS=()

usage() {
	sed -n '4,8p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--tc) TC=$2; shift 2 ;;
	--mode) MODE=$2; shift 2 ;;
	--name) NAME=$2; shift 2 ;;
	--ticks) TICKS=$2; shift 2 ;;
	--gens) GENS=$2; shift 2 ;;
	--dump-timeout) DUMP_TIMEOUT=$2; shift 2 ;;
	--sign) SIGN=$2; shift 2 ;;
	--holder) HOLDER=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--dump-arg) DUMP_ARGS+=("$2"); shift 2 ;;
	--restore-arg) RESTORE_ARGS+=("$2"); shift 2 ;;
	# NAME=VALUE in the environment of everything the test starts
	--env) export "${2?}"; shift 2 ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) echo "driver.sh: unknown option $1" >&2; usage ;;
	esac
done
[ $# -ge 1 ] || usage
PROG=$1
shift
HERE=$(cd "$(dirname "$0")" && pwd)
PROG_ARGS=("$@")
[ -z "$HOLDER" ] || HOLDER=$(realpath "$HOLDER")
[ -n "$NAME" ] || NAME="$(basename "$PROG")-$MODE"

# deadlines, in seconds
T_READY=$((60 * SCALE))
T_TICKS=$((60 * SCALE))
T_DUMP=$((DUMP_TIMEOUT * SCALE))
T_EXIT=$((30 * SCALE))
T_PASS=$((600 * SCALE))
T_RESTORE_FAIL=$((60 * SCALE))

log() { printf '[%s] %s: %s\n' "$(date +%T.%3N)" "$NAME" "$*"; }

WORK=
STARTED=()	# supervisors we started (run, restore), killed on exit
PROGS=()	# program processes we found, killed on exit
RESULT=fail

# ---------------------------------------------------------------- processes

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

# all processes: "pid ppid" lines
proc_table() {
	local f s rest pid
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		pid=${f#/proc/}
		pid=${pid%/stat}
		rest=${s##*) }
		# shellcheck disable=SC2086
		set -- $rest
		echo "$pid $2"
	done
}

# descendants ROOT: every process below ROOT, parents first
descendants() {
	proc_table | awk -v root="$1" '
		{ parent[$1] = $2; order[NR] = $1 }
		END {
			want[root] = 1
			do {
				changed = 0
				for (i = 1; i <= NR; i++) {
					p = order[i]
					if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1 }
				}
			} while (changed)
			for (i = 1; i <= NR; i++) if (order[i] in want && order[i] != root) print order[i]
		}'
}

# find_prog SUPERVISOR: the program's pid below the supervisor, by its
# /proc/PID/exe, else by argv[0]; empty if not found
find_prog() {
	local p exe arg0
	for p in $(descendants "$1"); do
		exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
		if [ "$exe" = "$PROG_REAL" ]; then echo "$p"; return; fi
	done
	for p in $(descendants "$1"); do
		arg0=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | head -n1)
		if [ "$arg0" = "$PROG" ] || [ "$arg0" = "$PROG_REAL" ]; then echo "$p"; return; fi
	done
	# a script: its interpreter has the script as argv[1]
	for p in $(descendants "$1"); do
		arg0=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n 2p)
		if [ "$arg0" = "$PROG" ] || [ "$arg0" = "$PROG_REAL" ]; then echo "$p"; return; fi
	done
}

# start OUT ERR CMD...: start CMD in the background; its pid in $LAST_PID
start() {
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err" </dev/null &
	LAST_PID=$!
	STARTED+=("$LAST_PID")
	log "started pid $LAST_PID: $*"
}

# timed SECONDS OUT ERR CMD...: run CMD to its end, at most SECONDS; status in
# $TIMED_RC (124 on timeout).  In the background, so that a SIGTERM (meson's
# timeout) reaches our trap at once rather than after CMD.  timeout(1) stays
# in our process group (--foreground) so meson's killpg reaches CMD too.
timed() {
	local t=$1 out=$2 err=$3 p
	shift 3
	timeout --foreground -k 5 "$t" "$@" >"$out" 2>"$err" </dev/null &
	p=$!
	STARTED+=("$p")
	wait "$p"
	TIMED_RC=$?
}

# wait_exit PID SECONDS: wait for our child PID to end; status in $EXIT_RC
wait_exit() {
	local pid=$1 deadline=$(( $(now_ms) + $2 * 1000 ))
	while alive "$pid"; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	EXIT_RC=$?
	return 0
}

# wait_gone PID SECONDS: for processes that are not our children
wait_gone() {
	local deadline=$(( $(now_ms) + $2 * 1000 ))
	while alive "$1"; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local p d
	for p in "${STARTED[@]}"; do
		alive "$p" || continue
		for d in $(descendants "$p"); do kill -KILL "$d" 2>/dev/null; done
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PROGS[@]}"; do
		alive "$p" || continue
		for d in $(descendants "$p"); do kill -KILL "$d" 2>/dev/null; done
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "$RESULT" = pass ] && [ "$KEEP" != 1 ]; then
			rm -rf "$WORK"
		else
			log "work directory kept: $WORK"
		fi
	fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM

# ---------------------------------------------------------------- output

diagnostics() {
	local f
	[ -n "$WORK" ] || return
	for f in "$WORK"/*.out "$WORK"/*.err; do
		echo "----- $(basename "$f") (last 15 lines of $(wc -l <"$f"))"
		tail -n 15 "$f"
	done
	echo "----- processes (pid ppid stat wchan args; syscall)"
	local seen=" " d
	for f in "${STARTED[@]}" "${PROGS[@]}"; do
		alive "$f" || continue
		for d in "$f" $(descendants "$f"); do
			case $seen in *" $d "*) continue ;; esac
			seen="$seen$d "
			ps -o pid=,ppid=,stat=,wchan:24=,args= -p "$d"
			[ -r "/proc/$d/syscall" ] && echo "      syscall: $(cat "/proc/$d/syscall" 2>/dev/null)"
		done
	done
	echo "-----"
}

fail() {
	log "FAIL: $*"
	diagnostics
	exit 1
}

skip() {
	log "SKIP: $*"
	RESULT=pass
	exit 77
}

last_tick() { grep -E '^tick [0-9]+$' "$1" | tail -n1 | cut -d' ' -f2; }
first_tick() { grep -m1 -E '^tick [0-9]+$' "$1" | cut -d' ' -f2; }

# wait_line FILE REGEX SECONDS PID: until a line matches; fails early when
# PID has ended (after one last look)
wait_line() {
	local f=$1 re=$2 deadline=$(( $(now_ms) + $3 * 1000 )) pid=${4:-}
	while :; do
		grep -qE "$re" "$f" 2>/dev/null && return 0
		if [ -n "$pid" ] && ! alive "$pid"; then
			grep -qE "$re" "$f" 2>/dev/null && return 0
			fail "pid $pid ended before '$re' appeared in $(basename "$f")"
		fi
		grep -q '^BAD' "$f" 2>/dev/null && fail "$(basename "$f"): $(grep -m1 '^BAD' "$f")"
		[ "$(now_ms)" -lt "$deadline" ] || fail "no '$re' in $(basename "$f") after $3 s"
		sleep 0.05
	done
}

# wait_tick FILE N SECONDS PID: until a tick >= N was printed
wait_tick() {
	local f=$1 n=$2 deadline=$(( $(now_ms) + $3 * 1000 )) pid=${4:-} t
	while :; do
		t=$(last_tick "$f")
		[ -n "$t" ] && [ "$t" -ge "$n" ] && return 0
		grep -q '^BAD' "$f" 2>/dev/null && fail "$(basename "$f"): $(grep -m1 '^BAD' "$f")"
		grep -q '^PASS' "$f" 2>/dev/null &&
			fail "$(basename "$f"): PASS before tick $n: give the program a larger -n"
		if [ -n "$pid" ] && ! alive "$pid"; then
			t=$(last_tick "$f")
			[ -n "$t" ] && [ "$t" -ge "$n" ] && return 0
			fail "pid $pid ended before tick $n in $(basename "$f") (last tick: ${t:-none})"
		fi
		[ "$(now_ms)" -lt "$deadline" ] || fail "no tick $n in $(basename "$f") after $3 s (last: ${t:-none})"
		sleep 0.05
	done
}

# check_output FILE: no BAD, ticks consecutive
check_output() {
	local f=$1 msg
	if grep -q '^BAD' "$f"; then
		fail "$(basename "$f"): $(grep -m1 '^BAD' "$f")"
	fi
	msg=$(awk '/^tick [0-9]+$/ {
			n = $2 + 0
			if (seen && n != prev + 1) { printf "tick %d follows tick %d (line %d)", n, prev, NR; exit 1 }
			prev = n; seen = 1
		}' "$f") || fail "$(basename "$f"): $msg"
}

# check_continuity BEFORE AFTER: first tick of AFTER = last tick of BEFORE + 1
check_continuity() {
	local l f
	l=$(last_tick "$1")
	f=$(first_tick "$2")
	[ -n "$l" ] || fail "$(basename "$1") has no tick"
	[ -n "$f" ] || fail "$(basename "$2") has no tick"
	[ "$f" -eq $((l + 1)) ] ||
		fail "continuity: last tick before the dump $l ($(basename "$1")), first after the restore $f ($(basename "$2")), expected $((l + 1))"
	log "continuity: tick $l before the dump, tick $f after the restore"
}

# ---------------------------------------------------------------- trace-ckpt

# start_run OUT ERR: run PROGRAM under trace-ckpt; sets RUN_PID
start_run() {
	start "$1" "$2" "$TC" run --dir "$WORK/images" -- "$PROG" "${PROG_ARGS[@]}"
	RUN_PID=$LAST_PID
}

# start_restore IMG OUT ERR: sets RESTORE_PID
start_restore() {
	start "$2" "$3" "$TC" restore ${RESTORE_ARGS[@]+"${RESTORE_ARGS[@]}"} "$1"
	RESTORE_PID=$LAST_PID
}

# prog_of SUPERVISOR: the program's pid, remembered for clean-up; if it cannot
# be found, empty (dump then addresses the user's only computation)
prog_of() {
	local p
	p=$(find_prog "$1")
	if [ -n "$p" ]; then
		PROGS+=("$p")
		log "program is pid $p (supervisor $1)"
	else
		log "warning: program not found below supervisor $1; dumping without PID"
	fi
	PROG_PID=$p
}

# dump TAG ARGS...: trace-ckpt dump ARGS; output in TAG.out/TAG.err, status in
# DUMP_RC, the "checkpoint: ..." line in DUMP_LINE
dump() {
	local tag=$1
	shift
	log "trace-ckpt dump $*"
	timed "$T_DUMP" "$WORK/$tag.out" "$WORK/$tag.err" "$TC" dump "$@" ${DUMP_ARGS[@]+"${DUMP_ARGS[@]}"}
	DUMP_RC=$TIMED_RC
	[ "$DUMP_RC" -ne 124 ] || fail "trace-ckpt dump $* did not finish in $T_DUMP s"
	DUMP_LINE=$(grep -m1 '^checkpoint: ' "$WORK/$tag.out")
	[ -z "$DUMP_LINE" ] || log "$DUMP_LINE"
}

# dump_ok TAG ARGS...: a dump that must succeed
dump_ok() {
	dump "$@"
	[ "$DUMP_RC" -eq 0 ] || fail "trace-ckpt dump exited $DUMP_RC: $(tail -n3 "$WORK/$1.err")"
	[ -n "$DUMP_LINE" ] || fail "trace-ckpt dump printed no 'checkpoint: DIR (...)' line"
}

# one generation: dump the computation of SUPERVISOR (output OUT) with --kill
# into IMG, check the supervisor ends with 137 and the program is gone
dump_kill() {
	local sup=$1 out=$2 img=$3 tag=$4
	shift 4
	prog_of "$sup"
	dump_ok "$tag" ${PROG_PID:+"$PROG_PID"} -D "$img" --kill "$@"
	wait_exit "$sup" "$T_EXIT" || fail "supervisor $sup still running $T_EXIT s after dump --kill"
	[ "$EXIT_RC" -eq 137 ] || fail "supervisor $sup exited $EXIT_RC after dump --kill, expected 137"
	if [ -n "$PROG_PID" ]; then
		wait_gone "$PROG_PID" "$T_EXIT" || fail "program $PROG_PID still running after dump --kill"
	fi
	[ -d "$img" ] || fail "dump succeeded but $img is not a directory"
	grep -q '^PASS' "$out" && fail "$(basename "$out"): the program finished before the dump"
	check_output "$out"
	log "generation dumped to $img; last tick $(last_tick "$out")"
}

# ---------------------------------------------------------------- preflight

preflight() {
	local capeff out rc
	[ -n "$TC" ] || { echo "driver.sh: no trace-ckpt (--tc or TRACE_CKPT)" >&2; exit 2; }
	[ -x "$TC" ] || fail "trace-ckpt not found at $TC"
	[ -x "$PROG" ] || fail "program not found at $PROG"
	# meson passes paths relative to the build directory; we cd away
	TC=$(readlink -f "$TC")
	PROG=$(readlink -f "$PROG")
	[ -z "$SIGN" ] || SIGN=$(readlink -f "$SIGN")
	PROG_REAL=$PROG
	if [ -r /proc/sys/kernel/yama/ptrace_scope ] &&
	   [ "$(cat /proc/sys/kernel/yama/ptrace_scope)" -ge 3 ]; then
		skip "ptrace is disabled (kernel.yama.ptrace_scope = 3)"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
		# CAP_SYS_PTRACE = 19, CAP_SYS_ADMIN = 21
		if [ -n "$capeff" ] && (( (0x$capeff >> 19 & 1) == 0 || (0x$capeff >> 21 & 1) == 0 )); then
			skip "no CAP_SYS_PTRACE or CAP_SYS_ADMIN (CapEff $capeff)"
		fi
	fi
	out=$(timeout --foreground -k 5 60 "$TC" check 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ]; then
		printf '%s\n' "$out"
		fail "trace-ckpt check exited $rc: this kernel lacks something the tool needs"
	fi
	STUB_REAL=
	[ -z "${TRACE_CKPT_STUB:-}" ] || STUB_REAL=$(readlink -f "$TRACE_CKPT_STUB")
	TC_REAL=$(readlink -f "$TC")
	WORK=$(mktemp -d "${TC_TEST_TMPDIR:-/tmp}/tc-it-$NAME.XXXXXX") || fail "mktemp"
	cd "$WORK" || fail "cd $WORK"
	log "work directory $WORK; program $PROG ${PROG_ARGS[*]}"
}

# leftovers TAG: fail if anything restored from a bad image is still running
leftovers() {
	local f p exe
	for f in /proc/[0-9]*/exe; do
		exe=$(readlink "$f" 2>/dev/null) || continue
		p=${f#/proc/}
		p=${p%/exe}
		alive "$p" || continue
		exe=${exe% (deleted)}
		# Ours only: another test's restore runs the same stub elsewhere.
		if [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$WORK" ] &&
		   { [ "$exe" = "$PROG_REAL" ] || { [ -n "$STUB_REAL" ] && [ "$exe" = "$STUB_REAL" ]; }; }; then
			ps -o pid=,ppid=,stat=,args= -p "$p"
			kill -KILL "$p" 2>/dev/null
			fail "$1: pid $p ($exe) is still running after the failed restore"
		fi
		if [ "$exe" = "$TC_REAL" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF "restore $WORK/img-"; then
			ps -o pid=,ppid=,stat=,args= -p "$p"
			kill -KILL "$p" 2>/dev/null
			fail "$1: a trace-ckpt restore (pid $p) is still running after the failed restore"
		fi
	done
}

# ---------------------------------------------------------------- modes

# chain of N generations (basic: N = 1)
mode_chain() {
	local n=$1 g out=run.out sup img next
	start_run run.out run.err
	sup=$RUN_PID
	wait_line "$out" '^READY$' "$T_READY" "$sup"
	wait_tick "$out" "$TICKS" "$T_TICKS" "$sup"
	for g in $(seq 1 "$n"); do
		img=$WORK/img.$g
		dump_kill "$sup" "$out" "$img" "dump.$g"
		next=restore.$g.out
		start_restore "$img" "$next" "restore.$g.err"
		sup=$RESTORE_PID
		wait_tick "$next" 1 "$T_TICKS" "$sup"
		check_continuity "$out" "$next"
		out=$next
		if [ "$g" -lt "$n" ]; then
			wait_tick "$out" $(( $(first_tick "$out") + TICKS )) "$T_TICKS" "$sup"
		fi
	done
	wait_line "$out" '^PASS$' "$T_PASS" "$sup"
	wait_exit "$sup" "$T_EXIT" || fail "restore still running $T_EXIT s after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "restore exited $EXIT_RC after PASS, expected 0"
	for out in run.out restore.*.out; do check_output "$WORK/$out"; done
	! grep -qh '^tick' restore.*.err run.err 2>/dev/null ||
		fail "tick lines on a supervisor's stderr: stdio was not bound as expected"
}

mode_leave() {
	local before after first img kids
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	before=$(last_tick run.out)
	[ -n "$PROG_PID" ] || fail "no program found below supervisor $RUN_PID"
	kids=$(pgrep -c -P "$PROG_PID")
	dump_ok dump ${PROG_PID:+"$PROG_PID"}
	after=$(last_tick run.out)
	img=$(sed -n 's/^checkpoint: \(.*\) (generation.*/\1/p' <<<"$DUMP_LINE")
	[ -n "$img" ] || img=$(sed -n 's/^checkpoint: \([^ ]*\).*/\1/p' <<<"$DUMP_LINE")
	[ -d "$img" ] || fail "dump said the image is '$img', which is not a directory"
	case $(readlink -f "$img") in
	"$(readlink -f "$WORK/images")"*) ;;
	*) fail "image $img is not under run --dir $WORK/images" ;;
	esac
	alive "$RUN_PID" || fail "run ended after a --leave-running dump"
	wait_tick run.out $((after + 3)) "$T_TICKS" "$RUN_PID"
	# The dump's copy-on-write clones are gone, reaped: no zombie under the program.
	[ "$(pgrep -c -P "$PROG_PID")" = "$kids" ] ||
		fail "the program has $(pgrep -c -P "$PROG_PID") children after the dump, $kids before: $(ps -o pid=,stat=,comm= --ppid "$PROG_PID" | tr '\n' ';')"
	log "the original runs on (tick $(last_tick run.out))"

	start_restore "$img" restore.out restore.err
	wait_tick restore.out 1 "$T_TICKS" "$RESTORE_PID"
	first=$(first_tick restore.out)
	if [ "$first" -le "$before" ] || [ "$first" -gt $((after + 1)) ]; then
		fail "first tick after the restore is $first; the dump happened between tick $before and tick $after"
	fi
	log "restored copy starts at tick $first (dump between ticks $before and $after)"
	wait_line restore.out '^PASS$' "$T_PASS" "$RESTORE_PID"
	wait_line run.out '^PASS$' "$T_PASS" "$RUN_PID"
	wait_exit "$RESTORE_PID" "$T_EXIT" || fail "restore still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "restore exited $EXIT_RC, expected 0"
	wait_exit "$RUN_PID" "$T_EXIT" || fail "run still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "run exited $EXIT_RC, expected 0"
	check_output run.out
	check_output restore.out
}

# resleep: a dump left running interrupts the program's sleep, which the
# kernel then goes on with as restart_syscall; a dump --kill right after finds
# it there.  The restore must make the sleep again, not return EINTR (the
# program says BAD on an EINTR it has no handler for).  Give it a long -i.
mode_resleep() {
	local sup
	start_run run.out run.err
	sup=$RUN_PID
	wait_line run.out '^READY$' "$T_READY" "$sup"
	wait_tick run.out 2 "$T_TICKS" "$sup"
	prog_of "$sup"
	dump_ok leave ${PROG_PID:+"$PROG_PID"} -D "$WORK/first"
	dump_kill "$sup" run.out "$WORK/img" kill
	start_restore "$WORK/img" restore.out restore.err
	wait_tick restore.out 1 "$T_TICKS" "$RESTORE_PID"
	check_continuity run.out restore.out
	wait_line restore.out '^PASS$' "$T_PASS" "$RESTORE_PID"
	wait_exit "$RESTORE_PID" "$T_EXIT" || fail "restore still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "restore exited $EXIT_RC, expected 0"
	check_output run.out
	check_output restore.out
}

# The size in MiB a dump line says it wrote.
dump_mib() {
	sed -n 's/.*(generation [0-9]*, \([0-9.]*\) MiB.*/\1/p' <<<"$DUMP_LINE"
}

# incremental: GENS dumps left running that store only what changed since the
# one before (--incremental), then one with --kill.  The older images are
# deleted (the last holds the cores it takes pages from as hard links), the
# last is restored and must go on from where it stopped; the restored
# computation is dumped the same way (its first image whole), killed,
# restored again and must reach PASS.
mode_incremental() {
	local g mib first_mib out=run.out sup img=$WORK/images img2=$WORK/again
	start "$out" run.err "$TC" run --dir "$img" --keep 3 -- "$PROG" "${PROG_ARGS[@]}"
	sup=$LAST_PID
	wait_line "$out" '^READY$' "$T_READY" "$sup"
	wait_tick "$out" "$TICKS" "$T_TICKS" "$sup"
	for g in $(seq 1 "$GENS"); do
		prog_of "$sup"
		dump_ok "dump.$g" ${PROG_PID:+"$PROG_PID"} --incremental
		mib=$(dump_mib)
		[ -n "$mib" ] || fail "no size in '$DUMP_LINE'"
		if [ "$g" -eq 1 ]; then
			first_mib=$mib
			! grep -q 'incremental:' <<<"$DUMP_LINE" ||
				fail "the first dump had no earlier image to take pages from: $DUMP_LINE"
		else
			grep -q 'incremental:' <<<"$DUMP_LINE" ||
				fail "generation $g stored everything again: $DUMP_LINE"
			awk -v m="$mib" -v f="$first_mib" 'BEGIN { exit !(m * 2 < f) }' ||
				fail "generation $g wrote $mib MiB, the whole first one $first_mib MiB"
		fi
		log "generation $g: $mib MiB written"
		wait_tick "$out" $(( $(last_tick "$out") + 2 )) "$T_TICKS" "$sup"
	done
	dump_kill "$sup" "$out" "$img" dump.kill --incremental
	grep -q 'incremental:' <<<"$DUMP_LINE" || fail "dump --kill stored everything: $DUMP_LINE"
	"$TC" show "$img" > show.out 2>&1 || fail "show $img: $(tail -n2 show.out)"
	grep -q 'incremental: pages of earlier generations' show.out ||
		fail "show does not say which earlier generations $img takes pages from"
	"$TC" show --json "$img" > show.json 2>&1 || fail "show --json $img: $(tail -n2 show.json)"
	grep -q '"earlier_generations":\[{"file":"proc-[0-9]*\.g[0-9]*\.core","bytes":[1-9]' show.json ||
		fail "show --json does not list the earlier generations"
	if [[ " ${DUMP_ARGS[*]-} " == *" --compress "* ]]; then
		grep -q 'compressed (zstd): .* ratio ' show.out || fail "show says nothing of compression"
		grep -q '"compressed":{"pages_bytes":[1-9]' show.json ||
			fail "show --json says nothing of compression"
	fi
	rm -rf "$img".[0-9]*
	start_restore "$img" restore.out restore.err
	wait_tick restore.out 1 "$T_TICKS" "$RESTORE_PID"
	check_continuity "$out" restore.out
	sup=$RESTORE_PID

	wait_tick restore.out $(( $(first_tick restore.out) + 2 )) "$T_TICKS" "$sup"
	prog_of "$sup"
	dump_ok again.1 ${PROG_PID:+"$PROG_PID"} -D "$img2" --incremental
	! grep -q 'incremental:' <<<"$DUMP_LINE" ||
		fail "a restored computation's first image has no earlier one to take pages from"
	wait_tick restore.out $(( $(last_tick restore.out) + 2 )) "$T_TICKS" "$sup"
	dump_ok again.2 ${PROG_PID:+"$PROG_PID"} -D "$img2" --incremental
	grep -q 'incremental:' <<<"$DUMP_LINE" || fail "after a restore: $DUMP_LINE"
	wait_tick restore.out $(( $(last_tick restore.out) + 2 )) "$T_TICKS" "$sup"
	PROG_PID=
	dump_kill "$sup" restore.out "$img2" again.kill --incremental
	start_restore "$img2" restore2.out restore2.err
	wait_tick restore2.out 1 "$T_TICKS" "$RESTORE_PID"
	check_continuity restore.out restore2.out
	wait_line restore2.out '^PASS$' "$T_PASS" "$RESTORE_PID"
	wait_exit "$RESTORE_PID" "$T_EXIT" || fail "restore still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "restore exited $EXIT_RC, expected 0"
	for out in run.out restore.out restore2.out; do check_output "$WORK/$out"; done
}

mode_crash() {
	local before after first p
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	before=$(last_tick run.out)
	dump_ok dump ${PROG_PID:+"$PROG_PID"} -D "$WORK/img"
	after=$(last_tick run.out)
	wait_tick run.out $((after + 3)) "$T_TICKS" "$RUN_PID"
	check_output run.out
	cp run.out before-crash.out
	# shellcheck disable=SC2046
	kill -KILL $(descendants "$RUN_PID") 2>/dev/null
	wait_exit "$RUN_PID" "$T_EXIT" || fail "run still running $T_EXIT s after its program was killed"
	[ "$EXIT_RC" -eq 137 ] || fail "run exited $EXIT_RC after its program was killed, expected 137"
	for p in "${PROGS[@]}"; do
		wait_gone "$p" "$T_EXIT" || fail "program $p still running after SIGKILL"
	done
	log "the program crashed at tick $(last_tick run.out)"

	start_restore "$WORK/img" restore.out restore.err
	wait_tick restore.out 1 "$T_TICKS" "$RESTORE_PID"
	first=$(first_tick restore.out)
	if [ "$first" -le "$before" ] || [ "$first" -gt $((after + 1)) ]; then
		fail "first tick after the restore is $first; the dump happened between tick $before and tick $after"
	fi
	log "restored from the dump: tick $first (dump between ticks $before and $after)"
	wait_line restore.out '^PASS$' "$T_PASS" "$RESTORE_PID"
	wait_exit "$RESTORE_PID" "$T_EXIT" || fail "restore still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "restore exited $EXIT_RC, expected 0"
	# After the SIGKILL, run.out may say BAD: a process that saw another die.
	check_output before-crash.out
	check_output restore.out
}

mode_faildump() {
	local t
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	: >"$WORK/not-a-directory"
	dump dump-bad-dir ${PROG_PID:+"$PROG_PID"} -D "$WORK/not-a-directory/img" --kill
	[ "$DUMP_RC" -ne 0 ] || fail "dump into a path under a regular file succeeded"
	[ -s "$WORK/dump-bad-dir.err" ] || fail "failed dump printed no message on stderr"
	log "failed as expected ($DUMP_RC): $(head -n1 "$WORK/dump-bad-dir.err")"
	alive "$RUN_PID" || fail "run ended after a failed dump"
	t=$(last_tick run.out)
	wait_tick run.out $((t + TICKS)) "$T_TICKS" "$RUN_PID"
	log "the program runs on (tick $(last_tick run.out))"

	dump dump-no-pid 2147483646 -D "$WORK/img-no-pid"
	[ "$DUMP_RC" -ne 0 ] || fail "dump of a PID that does not exist succeeded"
	[ -s "$WORK/dump-no-pid.err" ] || fail "dump of a PID that does not exist printed no message"
	log "failed as expected ($DUMP_RC): $(head -n1 "$WORK/dump-no-pid.err")"

	wait_line run.out '^PASS$' "$T_PASS" "$RUN_PID"
	wait_exit "$RUN_PID" "$T_EXIT" || fail "run still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "run exited $EXIT_RC after PASS, expected 0"
	check_output run.out
	local left=("$WORK"/not-a-directory?* "$WORK"/img-no-pid*)
	[ ${#left[@]} -eq 0 ] || fail "failed dumps left files behind: ${left[*]}"
}

flip_byte() {
	local f=$1 off=$2 b
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	# shellcheck disable=SC2059  # the format is the escaped byte
	printf "\\$(printf '%03o' $(( (b ^ 0xff) & 0xff )))" |
		dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

mode_damage() {
	local core rel size sums_before sums_after d bad rc
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	dump_kill "$RUN_PID" run.out "$WORK/img" dump
	core=$(find "$WORK/img" -name '*.core' -type f | head -n1)
	[ -n "$core" ] || fail "no *.core file in the image"
	rel=${core#"$WORK/img/"}
	size=$(stat -c %s "$core")
	sums_before=$(cd "$WORK/img" && find . -type f -exec sha256sum {} + | sort)

	cp -a "$WORK/img" "$WORK/img-flipped"
	flip_byte "$WORK/img-flipped/$rel" $((size / 2))
	cp -a "$WORK/img" "$WORK/img-truncated"
	truncate -s $((size / 2)) "$WORK/img-truncated/$rel"
	cp -a "$WORK/img" "$WORK/img-header"
	flip_byte "$WORK/img-header/$rel" 20
	local cases=(flipped truncated header)
	# A byte of the process record of a core over 1 MiB: such cores are
	# checked whole only while they load, their records before they are read.
	local note
	note=$(grep -obUaF TRACECKPT "$core" | head -n1 | cut -d: -f1)
	if [ "$size" -gt $((1 << 20)) ] && [ -n "$note" ]; then
		cp -a "$WORK/img" "$WORK/img-record"
		flip_byte "$WORK/img-record/$rel" $((note + 48))
		cases+=(record)
	fi
	if [ -f "$WORK/img/manifest" ]; then
		cp -a "$WORK/img" "$WORK/img-manifest"
		truncate -s $(( $(stat -c %s "$WORK/img/manifest") / 2 )) "$WORK/img-manifest/manifest"
		cases+=(manifest)
	fi

	for d in "${cases[@]}"; do
		if [ "$d" = manifest ]; then bad=manifest; else bad=$(basename "$rel"); fi
		log "restore of the image with a $d file ($bad)"
		timed "$T_RESTORE_FAIL" "$WORK/restore-$d.out" "$WORK/restore-$d.err" \
			"$TC" restore "$WORK/img-$d"
		rc=$TIMED_RC
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			fail "restore of the $d image did not end in $T_RESTORE_FAIL s"
		fi
		[ "$rc" -ne 0 ] || fail "restore of the $d image exited 0"
		grep -qF "$bad" "$WORK/restore-$d.err" ||
			fail "restore of the $d image does not name $bad: $(head -n3 "$WORK/restore-$d.err")"
		grep -qE '^tick' "$WORK/restore-$d.out" && fail "the program ran from the $d image"
		log "failed as expected ($rc): $(grep -m1 -F "$bad" "$WORK/restore-$d.err")"
		sleep 0.2	# let a half-built process tree, if any, show up
		leftovers "restore of the $d image"
	done

	sums_after=$(cd "$WORK/img" && find . -type f -exec sha256sum {} + | sort)
	[ "$sums_before" = "$sums_after" ] || fail "failed restores changed the original image"

	start_restore "$WORK/img" restore.out restore.err
	wait_tick restore.out 1 "$T_TICKS" "$RESTORE_PID"
	check_continuity run.out restore.out
	wait_line restore.out '^PASS$' "$T_PASS" "$RESTORE_PID"
	wait_exit "$RESTORE_PID" "$T_EXIT" || fail "restore still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "restore exited $EXIT_RC, expected 0"
	check_output restore.out
}

# refused WHAT PATTERN CMD...: CMD fails, says PATTERN, and nothing of the
# program runs
refused() {
	local what=$1 pat=$2 rc
	shift 2
	timed "$T_RESTORE_FAIL" "$WORK/$what.out" "$WORK/$what.err" "$@"
	rc=$TIMED_RC
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$what did not end in $T_RESTORE_FAIL s"
	fi
	[ "$rc" -ne 0 ] || fail "$what exited 0"
	grep -qF -- "$pat" "$WORK/$what.err" ||
		fail "$what does not say '$pat': $(head -n3 "$WORK/$what.err")"
	grep -qE '^tick' "$WORK/$what.out" && fail "the program ran: $what"
	log "$what: refused ($rc): $(grep -m1 -F -- "$pat" "$WORK/$what.err")"
	leftovers "$what"
}

mode_auth() {
	local core rel size sums_before sums_after key_a secret d i host mh
	[ -x "$SIGN" ] || fail "--mode auth needs --sign PATH (sign_manifest)"
	# The user who makes the image: a key of this test's own, made by the dump.
	export XDG_CONFIG_HOME=$WORK/config-a
	key_a=$XDG_CONFIG_HOME/trace-ckpt/image.key
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	dump_kill "$RUN_PID" run.out "$WORK/img" dump
	[ -f "$key_a" ] || fail "the dump made no key at $key_a"
	[ "$(stat -c %a "$key_a")" = 600 ] || fail "$key_a is mode $(stat -c %a "$key_a"), not 600"
	[ "$(stat -c %s "$key_a")" = 32 ] || fail "$key_a is not 32 bytes"
	core=$(find "$WORK/img" -name '*.core' -type f | head -n1)
	[ -n "$core" ] || fail "no *.core file in the image"
	rel=${core#"$WORK/img/"}
	size=$(stat -c %s "$core")
	sums_before=$(cd "$WORK/img" && find . -type f -exec sha256sum {} + | sort)

	# One byte of the manifest (its version), the checksum made right again.
	cp -a "$WORK/img" "$WORK/img-manifest"
	flip_byte "$WORK/img-manifest/manifest" 24
	"$SIGN" --checksum-only "$WORK/img-manifest" || fail "sign_manifest --checksum-only"
	# One byte of a core file, its checksum in the manifest made right; the MAC left as it was.
	cp -a "$WORK/img" "$WORK/img-core"
	flip_byte "$WORK/img-core/$rel" $((size / 2))
	"$SIGN" --sum "$rel" "$WORK/img-core" || fail "sign_manifest --sum"
	# Written before images were authenticated.
	cp -a "$WORK/img" "$WORK/img-nomac"
	"$SIGN" --no-mac "$WORK/img-nomac" || fail "sign_manifest --no-mac"
	for d in manifest core; do
		refused "restore-$d" "img-$d/manifest: MAC does not match" "$TC" restore "$WORK/img-$d"
		refused "show-$d" "img-$d/manifest: MAC does not match" "$TC" show "$WORK/img-$d"
	done
	refused restore-nomac "img-nomac/manifest: no MAC" "$TC" restore "$WORK/img-nomac"
	refused show-nomac "img-nomac/manifest: no MAC" "$TC" show "$WORK/img-nomac"
	# show --no-verify is the way to look at one anyway, and says so.
	timed 60 show-noverify.out show-noverify.err "$TC" show --no-verify "$WORK/img-nomac"
	[ "$TIMED_RC" -eq 0 ] || fail "show --no-verify exited $TIMED_RC: $(head -n3 show-noverify.err)"
	grep -q "not authenticated" show-noverify.err || fail "show --no-verify does not warn"

	# Another user: a key of their own, which did not make the image.
	refused restore-other-user "MAC does not match" \
		env XDG_CONFIG_HOME="$WORK/config-b" "$TC" restore "$WORK/img"
	grep -qF "$WORK/config-b/trace-ckpt/image.key" restore-other-user.err ||
		fail "the refusal does not name the key: $(head -n2 restore-other-user.err)"
	refused show-other-user "MAC does not match" \
		env XDG_CONFIG_HOME="$WORK/config-b" "$TC" show "$WORK/img"
	# A key others may read is no key.
	mkdir -p "$WORK/config-c/trace-ckpt"
	chmod 700 "$WORK/config-c/trace-ckpt"
	cp "$key_a" "$WORK/config-c/trace-ckpt/image.key"
	chmod 644 "$WORK/config-c/trace-ckpt/image.key"
	refused restore-loose-key "image.key: mode 0644" \
		env XDG_CONFIG_HOME="$WORK/config-c" "$TC" restore "$WORK/img"

	# Crafted hosts, in a multi-host manifest signed with the computation's secret.
	secret=$WORK/secret
	(umask 077 && head -c 32 /dev/urandom >"$secret")
	rm -f "$WORK/pwned" "$WORK/pwned2"
	i=0
	for host in "-oProxyCommand=touch $WORK/pwned" "x'\$(touch $WORK/pwned2)'"; do
		for mh in "h1|$host" "$host|127.0.0.2"; do
			i=$((i + 1))
			cp -a "$WORK/img" "$WORK/img-mh$i"
			"$SIGN" --key "$secret" --member "${mh%%|*}" "${mh#*|}" "$WORK/img-mh$i" ||
				fail "sign_manifest --member"
			refused "restore-mh$i" "'$host': not a host name" "$TC" restore --all-hosts \
				--coordinator 127.0.0.1:9 --secret "$secret" "$WORK/img-mh$i"
			refused "show-mh$i" "'$host': not a host name" "$TC" show --key "$secret" "$WORK/img-mh$i"
		done
	done
	# A good one: it is the host map that is crafted.
	cp -a "$WORK/img" "$WORK/img-mhok"
	"$SIGN" --key "$secret" --member h1 127.0.0.2 "$WORK/img-mhok" || fail "sign_manifest --member"
	timed 60 show-mhok.out show-mhok.err "$TC" show --key "$secret" "$WORK/img-mhok"
	grep -qF "host h1 (127.0.0.2)" show-mhok.out ||
		fail "a manifest sign_manifest signed is not taken: $(head -n3 show-mhok.err)"
	for host in "-oProxyCommand=touch $WORK/pwned" "x'\$(touch $WORK/pwned2)'"; do
		i=$((i + 1))
		refused "restore-hostmap$i" "'$host': not a host name" "$TC" restore --all-hosts \
			--coordinator 127.0.0.1:9 --secret "$secret" --host-map "h1=$host" "$WORK/img-mhok"
	done
	{ [ ! -e "$WORK/pwned" ] && [ ! -e "$WORK/pwned2" ]; } || fail "a crafted host ran its command"

	sums_after=$(cd "$WORK/img" && find . -type f -exec sha256sum {} + | sort)
	[ "$sums_before" = "$sums_after" ] || fail "failed restores changed the original image"

	# Signed again with the maker's key (sign_manifest's MAC is the real one), and
	# restored by "another user" who gives that key: it goes on.
	cp -a "$WORK/img" "$WORK/img-resigned"
	"$SIGN" --key "$key_a" "$WORK/img-resigned" || fail "sign_manifest --key"
	cmp -s "$WORK/img/manifest" "$WORK/img-resigned/manifest" ||
		fail "sign_manifest --key does not make the manifest the dump made"
	XDG_CONFIG_HOME=$WORK/config-b start restore.out restore.err "$TC" restore --key "$key_a" "$WORK/img"
	RESTORE_PID=$LAST_PID
	wait_tick restore.out 1 "$T_TICKS" "$RESTORE_PID"
	check_continuity run.out restore.out
	wait_line restore.out '^PASS$' "$T_PASS" "$RESTORE_PID"
	wait_exit "$RESTORE_PID" "$T_EXIT" || fail "restore still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "restore exited $EXIT_RC, expected 0"
	check_output restore.out
}

# refused_clean WHAT PATTERN CMD...: refused, and by a message, not by a signal
refused_clean() {
	refused "$@"
	[ "$TIMED_RC" -lt 128 ] || fail "$1 was killed by signal $((TIMED_RC - 128))"
}

mode_crafted() {
	local key pack rel size
	[ -x "$SIGN" ] || fail "--mode crafted needs --sign PATH (sign_manifest)"
	export XDG_CONFIG_HOME=$WORK/config-a
	key=$XDG_CONFIG_HOME/trace-ckpt/image.key
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	dump_kill "$RUN_PID" run.out "$WORK/img" dump
	# The process with the most bytes in its fds: the one file of all of them.
	pack=$(find "$WORK/img" -name 'fds-*' -type f -size +0 -printf '%s %p\n' | sort -n | tail -n1)
	pack=${pack#* }
	[ -n "$pack" ] || fail "no shared/fds-<pid> file with bytes in the image"
	[ -z "$(find "$WORK/img" -name 'file-*')" ] || fail "the image still has a file per fd"
	rel=${pack#"$WORK/img/"}
	size=$(stat -c %s "$pack")

	# Its last fd's range now runs past its end; size and checksum put right, signed.
	cp -a "$WORK/img" "$WORK/img-short"
	truncate -s $((size - 1)) "$WORK/img-short/$rel"
	"$SIGN" --key "$key" --sum "$rel" "$WORK/img-short" || fail "sign_manifest --sum"
	refused_clean restore-short "past the end of" "$TC" restore "$WORK/img-short"
	grep -qF "$rel (" "$WORK/restore-short.err" ||
		fail "the refusal does not name $rel: $(head -n3 "$WORK/restore-short.err")"
	refused_clean show-short "past the end of" "$TC" show "$WORK/img-short"
	# A format this trace-ckpt does not know.
	cp -a "$WORK/img" "$WORK/img-v3"
	"$SIGN" --key "$key" --version 3 "$WORK/img-v3" || fail "sign_manifest --version"
	refused_clean restore-v3 "image format version 3, newer than this trace-ckpt reads (" \
		"$TC" restore "$WORK/img-v3"
	grep -qE 'reads \([0-9]+\)' "$WORK/restore-v3.err" ||
		fail "the refusal does not name this trace-ckpt's version: $(head -n3 "$WORK/restore-v3.err")"
	refused_clean show-v3 "image format version 3" "$TC" show "$WORK/img-v3"

	start_restore "$WORK/img" restore.out restore.err
	wait_tick restore.out 1 "$T_TICKS" "$RESTORE_PID"
	check_continuity run.out restore.out
	wait_line restore.out '^PASS$' "$T_PASS" "$RESTORE_PID"
	wait_exit "$RESTORE_PID" "$T_EXIT" || fail "restore still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "restore exited $EXIT_RC, expected 0"
	check_output restore.out
}

mode_killsup() {
	local t tracer state
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	[ -n "$PROG_PID" ] || fail "cannot find the program below run $RUN_PID"
	kill -KILL "$RUN_PID"
	wait_exit "$RUN_PID" "$T_EXIT" || fail "run survived SIGKILL"
	log "run killed"
	alive "$PROG_PID" || fail "the program died with its supervisor"
	t=$(last_tick run.out)
	wait_tick run.out $((t + TICKS)) "$T_TICKS" "$PROG_PID"
	tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$PROG_PID/status")
	[ "$tracer" = 0 ] || fail "the program is still traced by pid $tracer"
	state=$(awk '/^State:/ { print $2 }' "/proc/$PROG_PID/status")
	case $state in
	T|t) fail "the program is stopped (state $state)" ;;
	esac
	log "the program runs on detached (tick $(last_tick run.out))"
	check_output run.out
	kill -KILL "$PROG_PID"
	wait_gone "$PROG_PID" "$T_EXIT" || fail "program $PROG_PID survived SIGKILL"
}

# the largest "stall N MS" of ticks FROM+1 .. TO in FILE
max_stall() {
	awk -v from="$2" -v to="$3" '
		$1 == "stall" && $2 > from && $2 <= to && $3 + 0 > max { max = $3 + 0 }
		END { print max + 0 }' "$1"
}

mode_silent() {
	local t0 t1 start ms stall sc
	command -v python3 >/dev/null || skip "no python3 for the silent client"
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	t0=$(last_tick run.out)
	# Three, so that a supervisor that serves them one after the other shows it.
	start silent.out silent.err python3 "$HERE/silent_client.py" "$RUN_PID" 3
	sc=$LAST_PID
	wait_line silent.out '^connected ' "$T_READY" "$sc"
	log "$(head -n1 silent.out)"
	start=$(now_ms)
	dump_ok dump ${PROG_PID:+"$PROG_PID"} -D "$WORK/img"
	ms=$(( $(now_ms) - start ))
	log "dump with silent clients connected: $ms ms"
	[ -f "$WORK/img/manifest" ] || fail "the dump wrote no $WORK/img/manifest"
	wait_tick run.out $((t0 + TICKS + 2)) "$T_TICKS" "$RUN_PID"
	t1=$(last_tick run.out)
	alive "$sc" || fail "the silent client ended early: $(cat silent.err)"
	stall=$(max_stall run.out "$t0" "$t1")
	log "longest stall of the program while the silent clients were connected: $stall ms (ticks $((t0 + 1))..$t1)"
	[ "$ms" -lt 2000 ] || fail "the dump took $ms ms with silent clients connected"
	[ "$stall" -lt 1000 ] || fail "the program stood still $stall ms while silent clients were connected"
	kill "$sc"
	wait_line run.out '^PASS$' "$T_PASS" "$RUN_PID"
	wait_exit "$RUN_PID" "$T_EXIT" || fail "run still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "run exited $EXIT_RC, expected 0"
	check_output run.out
}

# tmp_dirs: the temporary image directories next to $WORK/images
tmp_dirs() {
	local d
	for d in "$WORK"/images.tmp-??????; do
		[ -d "$d" ] && echo "$d"
	done
}

mode_staletmp() {
	local start cores stale live=$WORK/images.tmp-LiVe00 holder
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	[ -n "$PROG_PID" ] || fail "cannot find the program below run $RUN_PID"
	start dump.out dump.err "$TC" dump "$PROG_PID"
	# Killed while it writes: once a core file is on its way.
	start=$(now_ms)
	while :; do
		cores=("$WORK"/images.tmp-??????/*/proc-*.core)
		[ ${#cores[@]} -gt 0 ] && [ -s "${cores[0]}" ] && break
		grep -q '^checkpoint: ' dump.out && fail "the dump finished before it could be killed: give the program more memory"
		[ $(( $(now_ms) - start )) -lt $((T_DUMP * 1000)) ] || fail "no core file being written after $T_DUMP s"
		sleep 0.02
	done
	kill -KILL "$RUN_PID"
	wait_exit "$RUN_PID" "$T_EXIT" || fail "run survived SIGKILL"
	stale=$(tmp_dirs)
	[ -n "$stale" ] || fail "the killed dump left no temporary directory (did it finish?)"
	log "the killed dump left $stale ($(du -sh "$stale" | cut -f1))"
	if alive "$PROG_PID"; then
		kill -KILL "$PROG_PID"
		wait_gone "$PROG_PID" "$T_EXIT" || fail "program $PROG_PID survived SIGKILL"
	fi

	# A writer at work next to it: its lock held by one process, until killed.
	command -v flock >/dev/null || skip "no flock(1) to hold a writer lock"
	{ mkdir -m 0700 "$live" && echo live >"$live/manifest" && : >"$live.lock"; } || fail "mkdir $live"
	# shellcheck disable=SC2016
	start holder.out holder.err bash -c 'exec 9>>"$1" && flock -x 9 && exec sleep 600' _ "$live.lock"
	holder=$LAST_PID
	start=$(now_ms)
	while flock -n -x "$live.lock" true; do
		alive "$holder" || fail "flock(1) ended: $(cat holder.err)"
		[ $(( $(now_ms) - start )) -lt $((T_READY * 1000)) ] || fail "flock(1) did not take $live.lock"
		sleep 0.02
	done

	start_run run2.out run2.err
	wait_line run2.out '^READY$' "$T_READY" "$RUN_PID"
	[ ! -e "$stale" ] || fail "run into the same place left the dead writer's $stale"
	[ ! -e "$stale.lock" ] || fail "run into the same place left $stale.lock"
	[ -f "$live/manifest" ] || fail "run into the same place removed $live, whose writer lock is held"
	log "run removed $stale; $live (lock held) is still there"
	wait_tick run2.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	dump_ok dump2 ${PROG_PID:+"$PROG_PID"}
	[ -f "$WORK/images/manifest" ] || fail "the dump wrote no $WORK/images/manifest"
	[ -f "$live/manifest" ] || fail "a dump into the same place removed $live, whose writer lock is held"
	[ "$(tmp_dirs)" = "$live" ] || fail "temporary directories after the dump: $(tmp_dirs | tr '\n' ' ')"
	kill "$holder"
	wait_exit "$holder" "$T_EXIT" || fail "flock(1) survived SIGTERM"
	dump_ok dump3 ${PROG_PID:+"$PROG_PID"}
	[ ! -e "$live" ] || fail "$live is still there after its writer lock was let go"
	[ -z "$(tmp_dirs)" ] || fail "temporary directories after the last dump: $(tmp_dirs | tr '\n' ' ')"
	log "the next dump removed $live once its lock was free"
	check_output run2.out
}

mode_detach() {
	local p prog='' tracer
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	dump_kill "$RUN_PID" run.out "$WORK/img" dump
	start restore.out restore.err "$TC" restore --detach "$WORK/img"
	RESTORE_PID=$LAST_PID
	wait_exit "$RESTORE_PID" "$T_EXIT" || fail "restore --detach still running after $T_EXIT s"
	[ "$EXIT_RC" -eq 0 ] || fail "restore --detach exited $EXIT_RC: $(tail -n3 restore.err)"
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$PROG_REAL" ] &&
			[ "$(readlink "$p/cwd" 2>/dev/null)" = "$WORK" ] && prog=${p#/proc/}
	done
	[ -n "$prog" ] || fail "no restored program runs after restore --detach"
	PROGS+=("$prog")
	tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$prog/status")
	[ "$tracer" = 0 ] || fail "the restored program is still traced by pid $tracer"
	log "restore --detach exited 0; pid $prog runs on, traced by nobody"
	wait_line restore.out '^PASS$' "$T_PASS"
	check_continuity run.out restore.out
	check_output restore.out
}

mode_cli() {
	local sub rc line core img=$WORK/img out
	"$TC" --help >help.out 2>&1 || fail "trace-ckpt --help exited $?"
	[ -s help.out ] || fail "trace-ckpt --help printed nothing"
	for sub in run dump restore check list show; do
		"$TC" "$sub" --help >"help-$sub.out" 2>&1 || fail "trace-ckpt $sub --help exited $?"
		[ -s "help-$sub.out" ] || fail "trace-ckpt $sub --help printed nothing"
		grep -q -- "$sub" "help-$sub.out" || fail "trace-ckpt $sub --help does not mention $sub"
	done
	"$TC" no-such-command >/dev/null 2>&1 && fail "an unknown command exited 0"

	timed 60 run-exit.out run-exit.err "$TC" run -- /bin/sh -c 'exit 3'
	rc=$TIMED_RC
	[ "$rc" -eq 3 ] || fail "run of a command exiting 3 exited $rc"
	timed 60 run-sig.out run-sig.err "$TC" run -- /bin/sh -c 'kill -TERM $$'
	rc=$TIMED_RC
	[ "$rc" -eq 143 ] || fail "run of a command killed by SIGTERM exited $rc, expected 143"
	timed 60 run-echo.out run-echo.err "$TC" run -- /bin/echo hello
	out=$(cat run-echo.out)
	[ "$out" = hello ] || fail "run -- echo hello printed '$out'"

	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	[ -n "$PROG_PID" ] || fail "cannot find the program below run $RUN_PID"

	timed 60 list.out list.err "$TC" list
	[ "$TIMED_RC" -eq 0 ] || fail "trace-ckpt list exited $TIMED_RC"
	line=$(awk -v a="$PROG_PID" -v b="$RUN_PID" '$1 == a || $1 == b' list.out | head -n1)
	[ -n "$line" ] || fail "trace-ckpt list has no line for pid $PROG_PID or $RUN_PID: $(cat list.out)"
	grep -qF "$(basename "$PROG")" <<<"$line" || fail "trace-ckpt list line does not show the command: $line"
	grep -qF "$WORK/images" <<<"$line" || fail "trace-ckpt list line does not show the --dir $WORK/images: $line"
	log "list: $line"

	dump_ok dump "$PROG_PID" -D "$img"
	grep -qE '^checkpoint: .* \(generation [0-9]+, .*frozen [0-9.]+ [mu]?s' dump.out ||
		fail "dump output does not read 'checkpoint: DIR (generation N, SIZE, frozen X ms, ...)': $DUMP_LINE"
	alive "$PROG_PID" || fail "program ended after a --leave-running dump"
	local tmps=("$img".tmp* "$WORK"/*.tmp-*)
	[ ${#tmps[@]} -eq 0 ] || fail "temporary image directories left behind: ${tmps[*]}"
	[ -f "$img/manifest" ] || fail "no manifest in the image"
	core=$(find "$img" -name 'proc-*.core' -type f | head -n1)
	[ -n "$core" ] || fail "no proc-PID.core in the image"
	[ -z "$(find "$img" -type d ! -perm 700)" ] || fail "image directories not 0700: $(find "$img" -type d ! -perm 700)"
	[ -z "$(find "$img" -type f ! -perm 600)" ] || fail "image files not 0600: $(find "$img" -type f ! -perm 600)"

	timed 60 show.out show.err "$TC" show "$img"
	[ "$TIMED_RC" -eq 0 ] || fail "trace-ckpt show exited $TIMED_RC"
	# the image holds the pid the program sees (its innermost NSpid)
	local nspid
	nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$PROG_PID/status")
	grep -qw -e "$PROG_PID" -e "${nspid:-$PROG_PID}" show.out ||
		fail "trace-ckpt show mentions neither pid $PROG_PID nor its namespace pid $nspid"
	timed 60 show.json show-json.err "$TC" show "$img" --json
	[ "$TIMED_RC" -eq 0 ] || fail "trace-ckpt show --json exited $TIMED_RC"
	if command -v python3 >/dev/null; then
		python3 -m json.tool show.json >/dev/null 2>show-json-parse.err ||
			fail "show --json is not JSON: $(tail -n1 show-json-parse.err)"
	fi
	if command -v gdb >/dev/null; then
		timed 60 gdb.out gdb.err gdb -nx -batch -ex bt "$PROG" "$core"
		cat gdb.err >>gdb.out
		grep -qE '^#[0-9]+ .*\bmain \(' gdb.out || fail "gdb -ex bt on $core shows no main(): $(tail -n5 gdb.out)"
		log "gdb: $(grep -cE '^#[0-9]' gdb.out) frames, main() among them"
	fi

	kill -KILL "$PROG_PID"
	wait_exit "$RUN_PID" "$T_EXIT" || fail "run still running after its program was killed"
	[ "$EXIT_RC" -eq 137 ] || fail "run exited $EXIT_RC when its program was killed by SIGKILL, expected 137"
	check_output run.out
}

# attach: the program runs outside trace-ckpt until `attach PID` takes it
# over; its stdout is a file, which the restored program must go on writing
# where it left off (a regular file with its offset), unless restore binds it
# to its own stdout.  The image has no PID namespace: the restore needs the
# original pids, free again once the killed processes are gone.
mode_attach() {
	local t last size descs d out rc
	"$PROG" "${PROG_ARGS[@]}" >prog.out 2>prog.err </dev/null &
	PROG_PID=$!
	PROGS+=("$PROG_PID")
	log "started program pid $PROG_PID outside trace-ckpt: $PROG ${PROG_ARGS[*]}"
	wait_line prog.out '^READY$' "$T_READY" "$PROG_PID"
	start attach.out attach.err "$TC" attach --dir "$WORK/images" "$PROG_PID"
	ATTACH_PID=$LAST_PID
	wait_line attach.err '^attach: supervising pid' "$T_READY" "$ATTACH_PID"
	log "$(grep -m1 '^attach: supervising' attach.err)"
	t=$(last_tick prog.out)
	wait_tick prog.out $(( ${t:-0} + TICKS )) "$T_TICKS" "$PROG_PID"
	descs=$(descendants "$PROG_PID")
	dump_ok dump "$PROG_PID" -D "$WORK/img" --kill
	wait_exit "$ATTACH_PID" "$T_EXIT" || fail "attach $ATTACH_PID still running $T_EXIT s after dump --kill"
	[ "$EXIT_RC" -eq 137 ] || fail "attach exited $EXIT_RC after dump --kill, expected 137"
	# our child: reap it, or its zombie keeps the pid the restore needs
	wait_exit "$PROG_PID" "$T_EXIT" || fail "program $PROG_PID still running after dump --kill"
	rc=$EXIT_RC
	[ "$rc" -eq 137 ] || fail "program exited $rc after dump --kill, expected 137 (SIGKILL)"
	for d in $descs; do
		wait_gone "$d" "$T_EXIT" || fail "pid $d of the program still running after dump --kill"
	done
	[ -d "$WORK/img" ] || fail "dump succeeded but $WORK/img is not a directory"
	grep -q '^PASS' prog.out && fail "prog.out: the program finished before the dump"
	check_output prog.out
	cp prog.out before.out
	size=$(stat -c %s prog.out)
	last=$(last_tick before.out)
	log "dumped to $WORK/img; last tick $last"

	start_restore "$WORK/img" restore.out restore.err
	local deadline=$(( $(now_ms) + T_TICKS * 1000 ))
	out=
	while [ -z "$out" ]; do
		if [ -n "$(first_tick restore.out)" ]; then
			out=restore.out
		elif [ "$(stat -c %s prog.out)" -gt "$size" ] && grep -qE '^(tick [0-9]+|BAD.*)$' <(tail -c +$((size + 1)) prog.out); then
			out=prog.out
		else
			grep -q '^BAD' restore.out && fail "restore.out: $(grep -m1 '^BAD' restore.out)"
			alive "$RESTORE_PID" || fail "restore ended before the program printed a tick (last tick before: $last)"
			[ "$(now_ms)" -lt "$deadline" ] || fail "no tick after the restore in $T_TICKS s"
			sleep 0.05
		fi
	done
	log "the restored program writes $out"
	wait_line "$out" '^PASS$' "$T_PASS" "$RESTORE_PID"
	wait_exit "$RESTORE_PID" "$T_EXIT" || fail "restore still running $T_EXIT s after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "restore exited $EXIT_RC after PASS, expected 0"
	if [ "$out" = prog.out ]; then
		cmp -s before.out <(head -c "$size" prog.out) ||
			fail "the restored program rewrote what prog.out held at the dump"
		tail -c +$((size + 1)) prog.out >after.out
		check_continuity before.out after.out
		check_output prog.out
	else
		check_continuity before.out restore.out
		check_output restore.out
	fi
}

# tracers_of PID: "pid:TracerPid" of PID and its descendants that are traced
tracers_of() {
	local p t
	for p in "$1" $(descendants "$1"); do
		t=$(awk '/^TracerPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		[ -z "$t" ] || [ "$t" = 0 ] || echo "$p:$t"
	done
}

# not_stopped PID: its state is not a stop (T: job control, t: ptrace)
not_stopped() {
	local state
	state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	case $state in T|t) return 1 ;; esac
	return 0
}

mode_debugger() {
	local t traced holder
	[ -n "$HOLDER" ] || fail "mode debugger needs --holder PATH"
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	[ -n "$PROG_PID" ] || fail "cannot find the program below run $RUN_PID"
	traced=$(tracers_of "$PROG_PID")
	[ -z "$traced" ] || fail "traced between checkpoints (pid:tracer): $traced"
	log "nothing of the program is traced"
	if command -v gdb >/dev/null; then
		timed "$T_EXIT" gdb.out gdb.err gdb -p "$PROG_PID" -batch -ex 'info threads'
		[ "$TIMED_RC" -eq 0 ] || fail "gdb -p $PROG_PID exited $TIMED_RC: $(tail -n3 gdb.err)"
		# "Thread ... (LWP PID)", or "process PID" without libthread_db
		grep -qE "(LWP|process) $PROG_PID\b" gdb.out || fail "gdb -p $PROG_PID shows no thread of it: $(tail -n3 gdb.out)"
		log "gdb -p attached and detached: $(grep -cE '(LWP|process) [0-9]' gdb.out) threads"
	else
		log "no gdb: only our own tracer is tried"
	fi
	t=$(last_tick run.out)
	wait_tick run.out $((t + 2)) "$T_TICKS" "$RUN_PID"
	dump_ok dump1 "$PROG_PID" -D "$WORK/img1"
	traced=$(tracers_of "$PROG_PID")
	[ -z "$traced" ] || fail "traced after the dump (pid:tracer): $traced"

	start holder.out holder.err "$HOLDER" "$PROG_PID"
	holder=$LAST_PID
	wait_line holder.out '^held ' "$T_READY" "$holder"
	log "pid $holder holds the program ($(cat holder.out))"
	dump dump2 "$PROG_PID" -D "$WORK/img2"
	[ "$DUMP_RC" -ne 0 ] || fail "a dump of a program somebody else traces succeeded"
	grep -q "thread $PROG_PID is traced by pid $holder (ptholder)" "$WORK/dump2.err" ||
		fail "the refusal does not name the thread, the tracer and its command: $(tail -n2 "$WORK/dump2.err")"
	log "refused: $(tail -n1 "$WORK/dump2.err")"
	[ ! -e "$WORK/img2/manifest" ] || fail "the refused dump wrote an image"
	alive "$holder" || fail "the tracer ended with the refused dump"
	[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$PROG_PID/status")" = "$holder" ] ||
		fail "the tracer lost the program to the refused dump"
	t=$(last_tick run.out)
	wait_tick run.out $((t + 2)) "$T_TICKS" "$RUN_PID"
	kill -TERM "$holder"
	wait_exit "$holder" "$T_EXIT" || fail "the tracer $holder did not end"
	dump_ok dump3 "$PROG_PID" -D "$WORK/img3"
	traced=$(tracers_of "$PROG_PID")
	[ -z "$traced" ] || fail "traced after the last dump (pid:tracer): $traced"
	wait_line run.out '^PASS$' "$T_PASS" "$RUN_PID"
	wait_exit "$RUN_PID" "$T_EXIT" || fail "run still running after PASS"
	[ "$EXIT_RC" -eq 0 ] || fail "run exited $EXIT_RC, expected 0"
	check_output run.out
}

KILLDUMP_ROUNDS=50

# runs_on_untraced WHAT: the program ($PROG_PID), whose supervisor was killed,
# is let go by the kernel at once (no tracer left), is not stopped, and ticks
# on; WHAT starts the message of a failure
runs_on_untraced() {
	local deadline traced t
	deadline=$(( $(now_ms) + T_EXIT * 1000 ))
	while traced=$(tracers_of "$PROG_PID"); [ -n "$traced" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "${1}still traced (pid:tracer): $traced"
		sleep 0.05
	done
	not_stopped "$PROG_PID" || fail "${1}the program is stopped after its supervisor died"
	t=$(last_tick run.out)
	wait_tick run.out $((t + 2)) "$T_TICKS" "$PROG_PID"
}

mode_killdump() {
	local i sup start ms span delay done_dumps=0
	start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	[ -n "$PROG_PID" ] || fail "cannot find the program below run $RUN_PID"
	sup=$RUN_PID
	# How long a whole dump takes here: the kills fall within that.
	start=$(now_ms)
	dump_ok dump0 "$PROG_PID" -D "$WORK/images"
	span=$(( $(now_ms) - start + 1 ))
	log "a dump takes $span ms; each kill falls within that much of its start"
	for ((i = 1; i <= KILLDUMP_ROUNDS; i++)); do
		if [ "$i" -gt 1 ]; then
			start "attach$i.out" "attach$i.err" "$TC" attach --dir "$WORK/images" "$PROG_PID"
			sup=$LAST_PID
			wait_line "attach$i.err" '^attach: supervising pid' "$T_READY" "$sup"
		fi
		delay=$((RANDOM % span))
		start "dump$i.out" "dump$i.err" "$TC" dump "$PROG_PID" -D "$WORK/images"
		sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
		kill -KILL "$sup"
		wait_exit "$sup" "$T_EXIT" || fail "supervisor $sup survived SIGKILL"
		wait_exit "$LAST_PID" "$T_DUMP" || fail "dump client still running after its supervisor died"
		grep -q '^checkpoint: ' "dump$i.out" && done_dumps=$((done_dumps + 1))
		alive "$PROG_PID" || fail "round $i: the program died with its supervisor, killed $delay ms into a dump"
		runs_on_untraced "round $i: "
		log "round $i: supervisor killed $delay ms into a dump; the program runs on (tick $(last_tick run.out))"
		if [ -e "$WORK/images/manifest" ]; then
			timed "$T_EXIT" "show$i.out" "show$i.err" "$TC" show "$WORK/images"
			[ "$TIMED_RC" -eq 0 ] || fail "round $i: the image left is damaged: $(tail -n2 "show$i.err")"
		fi
	done
	log "$done_dumps of $KILLDUMP_ROUNDS dumps finished before their supervisor was killed"
	# A dump into the same place removes what the killed ones left.
	start attach.out attach.err "$TC" attach --dir "$WORK/images" "$PROG_PID"
	sup=$LAST_PID
	wait_line attach.err '^attach: supervising pid' "$T_READY" "$sup"
	dump_ok dumplast "$PROG_PID"
	[ -z "$(tmp_dirs)" ] || fail "temporary directories left after a dump into the same place: $(tmp_dirs)"
	timed "$T_EXIT" showlast.out showlast.err "$TC" show "$WORK/images"
	[ "$TIMED_RC" -eq 0 ] || fail "the last image is damaged: $(tail -n2 showlast.err)"
	kill -KILL "$sup"
	wait_exit "$sup" "$T_EXIT" || fail "supervisor $sup survived SIGKILL"
	check_output run.out
	kill -KILL "$PROG_PID"
	wait_gone "$PROG_PID" "$T_EXIT" || fail "program $PROG_PID survived SIGKILL"
}

# cgroup_of PID: the directory of its cgroup v2 (empty if none)
cgroup_of() {
	local mnt rel
	mnt=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
	rel=$(sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null)
	[ -n "$mnt" ] && [ -n "$rel" ] && echo "$mnt$rel"
}

mode_killfrozen() {
	local cg sup worker kids p deadline
	TRACE_CKPT_HOLD_FROZEN_MS=3000 start_run run.out run.err
	wait_line run.out '^READY$' "$T_READY" "$RUN_PID"
	wait_tick run.out "$TICKS" "$T_TICKS" "$RUN_PID"
	prog_of "$RUN_PID"
	[ -n "$PROG_PID" ] || fail "cannot find the program below run $RUN_PID"
	sup=$RUN_PID
	cg=$(cgroup_of "$PROG_PID")
	case $cg in
	*/trace-ckpt-"$sup") log "the program is in $cg" ;;
	*) skip "run made no cgroup here (the program's is ${cg:-none}): no cgroup v2 subtree of ours" ;;
	esac
	start dump1.out dump1.err "$TC" dump "$PROG_PID" -D "$WORK/images"
	deadline=$(( $(now_ms) + T_DUMP * 1000 ))
	until grep -q '^frozen 1$' "$cg/cgroup.events"; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "the cgroup $cg was never frozen"
		sleep 0.01
	done
	# The dump worker: the supervisor's child that is not its pid namespace's init.
	worker=
	read -r -a kids <<<"$(cat /proc/"$sup"/task/*/children 2>/dev/null)"
	for p in "${kids[@]}"; do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = trace-ckpt ] && worker=$p
	done
	[ -n "$worker" ] || fail "no dump worker below supervisor $sup"
	kill -KILL "$sup" "$worker"
	log "supervisor $sup and dump worker $worker killed, the cgroup frozen"
	wait_exit "$sup" "$T_EXIT" || fail "supervisor $sup survived SIGKILL"
	wait_exit "$LAST_PID" "$T_DUMP" || fail "dump client still running after its supervisor died"
	alive "$PROG_PID" || fail "the program died with its supervisor"
	deadline=$(( $(now_ms) + T_EXIT * 1000 ))
	until grep -q '^frozen 0$' "$cg/cgroup.events"; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "the cgroup $cg is still frozen: nobody thawed it"
		sleep 0.05
	done
	runs_on_untraced ""
	log "the cgroup was thawed; the program runs on (tick $(last_tick run.out))"
	check_output run.out
	kill -KILL "$PROG_PID"
	wait_gone "$PROG_PID" "$T_EXIT" || fail "program $PROG_PID survived SIGKILL"
	deadline=$(( $(now_ms) + T_EXIT * 1000 ))
	until grep -q '^populated 0$' "$cg/cgroup.events"; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "the cgroup $cg is not empty after the program ended"
		sleep 0.05
	done
	timed "$T_EXIT" true.out true.err "$TC" run -- true
	[ "$TIMED_RC" -eq 0 ] || fail "run -- true: status $TIMED_RC"
	[ ! -e "$cg" ] || fail "the next run left the empty cgroup $cg of a killed supervisor"
	log "the next run removed $cg"
}

# ---------------------------------------------------------------- main

preflight
case $MODE in
basic) mode_chain 1 ;;
chain) mode_chain "$GENS" ;;
leave) mode_leave ;;
crash) mode_crash ;;
faildump) mode_faildump ;;
damage) mode_damage ;;
auth) mode_auth ;;
crafted) mode_crafted ;;
killsup) mode_killsup ;;
killfrozen) mode_killfrozen ;;
detach) mode_detach ;;
silent) mode_silent ;;
staletmp) mode_staletmp ;;
cli) mode_cli ;;
attach) mode_attach ;;
debugger) mode_debugger ;;
killdump) mode_killdump ;;
incremental) mode_incremental ;;
resleep) mode_resleep ;;
*) fail "unknown mode $MODE" ;;
esac
RESULT=pass
log "PASS"
exit 0
