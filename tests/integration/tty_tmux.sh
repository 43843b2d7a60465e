#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tty_tmux.sh: interactive programs on the user's terminal, through
# trace-ckpt, typed at by tmux.
#
#   tty_tmux.sh [--tc PATH] [--part plain|bash|less|all]... [--keep]
#
# Parts (default: all, in this order):
#   plain  run -- bash -i, no checkpoint: commands, ^C at the prompt, job
#          control (sleep &, jobs, fg, ^C; ^Z, bg, kill), a foreground cat
#          reading the terminal, a window resize; exit -> run exits 0
#   bash   run -- bash -i; FOO=hello_$$; a half-typed "echo half"; dump -D
#          IMG --kill -> run exits 137; restore IMG in a new tmux window; the
#          rest of the line typed there: "echo half_typed", $FOO, $$ and the
#          history come back; job control and the window size on the new
#          terminal; exit -> restore exits 0
#   less   run -- less FILE; scroll; dump --kill -> 137; restore in a new
#          window: less redraws the same screen (the tool sends SIGWINCH),
#          still takes single keys (raw mode); q -> restore exits 0
#
# Each part types into an interactive bash (the "outer" shell, as a user
# would) in a window of a private tmux server (tmux -L tcttytest-PID -f
# /dev/null), 100x30, TERM=screen; the outer shell writes the status of
# trace-ckpt run/restore to a file.  Every wait is a poll with a deadline;
# a failure prints what the pane showed.  A failed part does not stop the
# others.
#
# Environment: TRACE_CKPT (the command, if no --tc), TRACE_CKPT_STUB (passed
# on), TC_TEST_TMPDIR (default /tmp), TC_KEEP=1 (keep the work directory),
# TC_TIMEOUT_SCALE (multiply every deadline).
# Exit: 0 pass, 1 fail, 77 skip (no tmux, not root).

# The parts are called as "part_$PART"; what is typed is in single quotes on
# purpose (the inner shell expands it).
# shellcheck disable=SC2317,SC2016

set -u
shopt -s nullglob

TC=${TRACE_CKPT:-}
KEEP=${TC_KEEP:-0}
SCALE=${TC_TIMEOUT_SCALE:-1}
PARTS=()

usage() {
	sed -n '7p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--tc) TC=$2; shift 2 ;;
	--part) PARTS+=("$2"); shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h|--help) usage ;;
	*) echo "tty_tmux.sh: unknown option $1" >&2; usage ;;
	esac
done
[ ${#PARTS[@]} -gt 0 ] || PARTS=(plain bash less)
for p in "${PARTS[@]}"; do
	case $p in
	plain|bash|less) ;;
	all) PARTS=(plain bash less); break ;;
	*) echo "tty_tmux.sh: unknown part $p" >&2; usage ;;
	esac
done

# deadlines, in seconds
T_PROMPT=$((20 * SCALE))	# a shell prompt, a command's output
T_DUMP=$((60 * SCALE))
T_EXIT=$((30 * SCALE))		# run/restore ending
T_RESTORE=$((60 * SCALE))	# restore up and the program on the screen
T_SETTLE=$((10 * SCALE))	# the terminal's state once the restore is listed

COLS=100
ROWS=30
SOCK=tcttytest-$$
SESSION=tc
WORK=
RESULT=fail

# log, now_ms, alive (fail is this test's own, below)
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

tm() { tmux -L "$SOCK" -f /dev/null "$@"; }

# ---------------------------------------------------------------- processes

# descendants ROOT...: the ROOTs and every process below them
descendants() {
	local f s pid rest
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		pid=${f#/proc/}
		pid=${pid%/stat}
		rest=${s##*) }
		# shellcheck disable=SC2086
		set -- $rest
		echo "$pid $2"
	done | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
		{ parent[$1] = $2; order[NR] = $1 }
		END {
			do {
				changed = 0
				for (i = 1; i <= NR; i++) {
					p = order[i]
					if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1 }
				}
			} while (changed)
			for (i = 1; i <= NR; i++) if (order[i] in want) print order[i]
		}'
}

# the processes in our panes, and computations of ours that outlived their
# supervisor (trace-ckpt list names our work directory)
our_processes() {
	local panes
	panes=$(tm list-panes -s -t "$SESSION" -F '#{pane_pid}' 2>/dev/null)
	# shellcheck disable=SC2086  # one pid per word
	[ -z "$panes" ] || descendants $panes
	if [ -n "$WORK" ] && [ -x "$TC" ]; then
		timeout 10 "$TC" list 2>/dev/null | awk -v w="$WORK/" 'index($0, w) { print $1 }'
	fi
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local p
	for p in $(our_processes); do kill -KILL "$p" 2>/dev/null; done
	tm kill-server 2>/dev/null
	rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK"
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

# ---------------------------------------------------------------- tmux

# pane WIN: what the window shows, trailing blank lines dropped
pane() {
	tm capture-pane -p -t "$SESSION:$1" 2>/dev/null | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

show_pane() {
	echo "----- window $1 shows:"
	pane "$1" | sed 's/^/| /'
	echo "-----"
}

# PART and WIN are the current part and window, for messages
PART=
WIN=

# processes below the current supervisor, with their terminal and state
show_procs() {
	local p pids=
	[ -n "$SUP" ] || return
	for p in $(descendants "$SUP"); do pids="$pids,$p"; done
	[ -n "$pids" ] || { echo "----- (supervisor $SUP is gone)"; return; }
	echo "----- processes of $SUPNAME (tpgid: the terminal's foreground group)"
	ps -o pid=,ppid=,pgid=,sid=,tpgid=,tty=,stat=,wchan:22=,args= -p "${pids#,}" | sed 's/^/| /'
	for p in $(descendants "$SUP"); do
		[ "$p" = "$SUP" ] && continue
		printf '|   %s: syscall %s; fd 0 -> %s\n' "$p" "$(cut -d' ' -f1-2 "/proc/$p/syscall" 2>/dev/null)" \
			"$(readlink "/proc/$p/fd/0" 2>/dev/null)"
	done
}

fail() {
	log "FAIL [$PART]: $*"
	[ -z "$WIN" ] || show_pane "$WIN"
	show_procs
	exit 1
}

# outer WIN: a new window with an interactive bash, its prompt "outer$ "
outer() {
	local env
	WIN=$1
	env="env -i PATH='$PATH' HOME='$WORK/home' TERM=screen LANG=C.UTF-8"
	env="$env INPUTRC=/dev/null HISTFILE=/dev/null LESSHISTFILE=- LESS= PS1='outer\$ '"
	[ -z "${TRACE_CKPT_STUB:-}" ] || env="$env TRACE_CKPT_STUB='$TRACE_CKPT_STUB'"
	if tm has-session -t "$SESSION" 2>/dev/null; then
		tm new-window -d -t "$SESSION:" -n "$WIN" "$env bash --norc --noprofile -i" ||
			fail "tmux new-window failed"
	else
		# no window-size manual: tmux 3.3a crashes on new-window with it
		tm new-session -d -s "$SESSION" -x "$COLS" -y "$ROWS" -n "$WIN" \
			"$env bash --norc --noprofile -i" \; \
			set -g status off \; set -g remain-on-exit on \; \
			set -g default-size "${COLS}x$ROWS" \; set -g default-terminal screen ||
			fail "tmux new-session failed"
	fi
	wait_pane '^outer\$$' "$T_PROMPT" "the outer shell's prompt"
	local size
	size=$(tm display -p -t "$SESSION:$WIN" '#{pane_width}x#{pane_height}')
	[ "$size" = "${COLS}x$ROWS" ] || fail "window $WIN is $size, expected ${COLS}x$ROWS"
}

# typein TEXT: typed literally into the current window, no Enter
typein() { tm send-keys -t "$SESSION:$WIN" -l "$1" || fail "tmux send-keys failed"; }
# key KEY...: tmux key names (Enter, C-c, j, Space)
key() { tm send-keys -t "$SESSION:$WIN" "$@" || fail "tmux send-keys $* failed"; }
line() { typein "$1"; key Enter; }

# RCFILE is where the outer shell writes the current supervisor's status;
# a wait fails early when the supervisor ended unexpectedly
RCFILE=

# wait_pane REGEX SECONDS WHAT: until a line of the window matches
wait_pane() {
	local re=$1 deadline=$(( $(now_ms) + $2 * 1000 ))
	while :; do
		pane "$WIN" | grep -qE -- "$re" && return 0
		if [ -n "$RCFILE" ] && [ -s "$RCFILE" ]; then
			pane "$WIN" | grep -qE -- "$re" && return 0
			fail "waiting for $3: $SUPNAME ended with status $(cat "$RCFILE")"
		fi
		[ "$(now_ms)" -lt "$deadline" ] || fail "no $3 after $2 s (no line matching '$re')"
		sleep 0.1
	done
}

# wait_last REGEX SECONDS WHAT: until the last non-blank line matches
wait_last() {
	local re=$1 deadline=$(( $(now_ms) + $2 * 1000 ))
	while :; do
		pane "$WIN" | tail -n1 | grep -qE -- "$re" && return 0
		if [ -n "$RCFILE" ] && [ -s "$RCFILE" ]; then
			fail "waiting for $3: $SUPNAME ended with status $(cat "$RCFILE")"
		fi
		[ "$(now_ms)" -lt "$deadline" ] || fail "no $3 after $2 s (last line not matching '$re')"
		sleep 0.1
	done
}

# count_pane REGEX: how many lines of the window match
count_pane() { pane "$WIN" | grep -cE -- "$1"; }

# wait_rc SECONDS: until the supervisor's status is in RCFILE; in $RC
wait_rc() {
	local deadline=$(( $(now_ms) + $1 * 1000 ))
	until [ -s "$RCFILE" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "$SUPNAME still running after $1 s"
		sleep 0.1
	done
	RC=$(cat "$RCFILE")
	RCFILE=
}

# supervise KIND TAG CMD...: type "CMD; echo $? >RCFILE" at the outer prompt
# (KIND run or restore, for messages); SUP becomes the supervisor's pid
SUP=
SUPNAME=
supervise() {
	local kind=$1 tag=$2 cmd q deadline shell
	shift 2
	RCFILE=$WORK/$tag.rc
	SUPNAME="trace-ckpt $kind"
	cmd=
	for q in "$@"; do cmd="$cmd $(printf '%q' "$q")"; done
	line "${cmd# }; echo \$? >$(printf '%q' "$RCFILE")"
	shell=$(tm display -p -t "$SESSION:$WIN" '#{pane_pid}')
	deadline=$(( $(now_ms) + T_PROMPT * 1000 ))
	SUP=
	while [ -z "$SUP" ]; do
		SUP=$(ps -o pid=,comm= --ppid "$shell" | awk '$2 == "trace-ckpt" { print $1; exit }')
		[ -n "$SUP" ] || [ ! -s "$RCFILE" ] || fail "$SUPNAME ended at once with status $(cat "$RCFILE")"
		[ -n "$SUP" ] || [ "$(now_ms)" -lt "$deadline" ] || fail "no $SUPNAME process below the outer shell $shell"
		sleep 0.05
	done
	log "$SUPNAME: pid $SUP"
}

# program_pid: the pid of the computation of supervisor SUP, by trace-ckpt
# list ("PID CMDLINE DIR (supervisor N, ...)"); in $PROG_PID
program_pid() {
	local deadline=$(( $(now_ms) + T_PROMPT * 1000 )) out
	PROG_PID=
	while :; do
		out=$(timeout 10 "$TC" list 2>&1)
		PROG_PID=$(awk -v s="(supervisor $SUP," 'index($0, s) { print $1; exit }' <<<"$out")
		[ -z "$PROG_PID" ] || break
		[ "$(now_ms)" -lt "$deadline" ] ||
			fail "trace-ckpt list does not show a computation of supervisor $SUP: $out"
		sleep 0.1
	done
	log "the computation: $(grep -F "(supervisor $SUP," <<<"$out" | head -n1)"
}

# wait_fg COMM: until a process COMM below SUP leads the terminal's
# foreground group (bash has handed it the terminal: keys go to it now)
wait_fg() {
	local deadline=$(( $(now_ms) + T_PROMPT * 1000 )) p s rest
	while :; do
		for p in $(descendants "$SUP"); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] || continue
			{ read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
			rest=${s##*) }
			# shellcheck disable=SC2086
			set -- $rest
			# state ppid pgrp session tty_nr tpgid
			[ "$3" = "$6" ] && return 0
		done
		[ "$(now_ms)" -lt "$deadline" ] || fail "no '$1' in the terminal's foreground group after $T_PROMPT s"
		sleep 0.05
	done
}

# pane_tty: the terminal of the current window
pane_tty() { tm display -p -t "$SESSION:$WIN" '#{pane_tty}'; }

# proc_field PID N: field N of /proc/PID/stat after the command name
# (1 state, 3 pgrp, 4 session, 5 tty_nr, 6 tpgid)
proc_field() {
	local s a
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
	read -ra a <<<"${s##*) }"
	echo "${a[$2 - 1]}"
}

# stty_items TTY: the terminal's settings one a line (not speed and size)
stty_items() {
	local l
	stty -F "$1" -a | sed 1d | tr ';' '\n' | while read -r l; do
		case $l in
		*=*) echo "$l" ;;
		*) tr ' ' '\n' <<<"$l" ;;
		esac
	done | grep -v '^$'
}

# wait_restored: until trace-ckpt list shows the computation of SUP, its
# program (PROG_PID) has the new window's terminal as controlling terminal,
# leads its foreground group, and the terminal is in the mode it had when
# the computation was dumped (MODE_BEFORE, stty -g)
wait_restored() {
	local deadline=$(( $(now_ms) + T_RESTORE * 1000 )) out tty ctty pgrp tpgid mode why
	local settle=
	tty=$(pane_tty)
	while :; do
		[ ! -s "$RCFILE" ] || fail "trace-ckpt restore ended with status $(cat "$RCFILE") (the program was restored: ${PROG_PID:-no})"
		out=$(timeout 10 "$TC" list 2>/dev/null)
		PROG_PID=$(awk -v s="(supervisor $SUP," 'index($0, s) { print $1; exit }' <<<"$out")
		why="trace-ckpt list shows no computation of supervisor $SUP (list: ${out:-nothing})"
		if [ -n "$PROG_PID" ]; then
			# listed: restored; the terminal should be right at once
			if [ -z "$settle" ]; then
				settle=$(( $(now_ms) + T_SETTLE * 1000 ))
				[ "$settle" -ge "$deadline" ] || deadline=$settle
			fi
			ctty=$(ps -o tty= -p "$PROG_PID" | tr -d ' ')
			pgrp=$(proc_field "$PROG_PID" 3)
			tpgid=$(proc_field "$PROG_PID" 6)
			mode=$(stty -F "$tty" -g 2>&1)
			why=
			[ "/dev/$ctty" = "$tty" ] ||
				why="$why
 - the restored program (pid $PROG_PID) has controlling terminal '$ctty', not the window's $tty"
			[ "$pgrp" = "$tpgid" ] ||
				why="$why
 - the restored program (pid $PROG_PID, process group $pgrp) is not in the foreground group of its terminal (that is $tpgid): reading the terminal, it gets SIGTTIN, or EIO when it ignores SIGTTIN"
			[ "$mode" = "$MODE_BEFORE" ] ||
				why="$why
 - $tty is not in the mode the program had it in at the dump: $(diff "$WORK/$PART.stty-before" <(stty_items "$tty") | grep '^[<>]' | tr '\n' ' ')(< at the dump, > now)"
			if [ -z "$why" ]; then
				log "restored: pid $PROG_PID on $tty, in the foreground, the terminal in its mode"
				return 0
			fi
			why="the restored computation is not right on its terminal:$why"
		fi
		[ "$(now_ms)" -lt "$deadline" ] || fail "$why"
		sleep 0.1
	done
}

# dump_kill IMG: trace-ckpt dump PROG_PID -D IMG --kill, then run must end 137
dump_kill() {
	local img=$1 rc tty
	tty=$(pane_tty)
	MODE_BEFORE=$(stty -F "$tty" -g) || fail "stty -F $tty failed"
	stty_items "$tty" >"$WORK/$PART.stty-before"
	log "trace-ckpt dump $PROG_PID -D $img --kill"
	timeout -k 5 "$T_DUMP" "$TC" dump "$PROG_PID" -D "$img" --kill \
		>"$WORK/$PART.dump.out" 2>"$WORK/$PART.dump.err" </dev/null
	rc=$?
	[ "$rc" -ne 124 ] || fail "trace-ckpt dump did not finish in $T_DUMP s"
	if [ "$rc" -ne 0 ]; then
		local still=no
		alive "$PROG_PID" && still=yes
		fail "trace-ckpt dump exited $rc: $(cat "$WORK/$PART.dump.err" "$WORK/$PART.dump.out")
   (program $PROG_PID still running after the failed dump: $still)"
	fi
	log "$(grep -m1 '^checkpoint: ' "$WORK/$PART.dump.out" || echo "dump printed no 'checkpoint:' line")"
	wait_rc "$T_EXIT"
	[ "$RC" = 137 ] || fail "trace-ckpt run exited $RC after dump --kill, expected 137"
	[ -d "$img" ] || fail "dump succeeded but $img is not a directory"
	log "run exited 137"
}

# restore_in WIN IMG: a new window, trace-ckpt restore IMG typed there
restore_in() {
	outer "$1"
	supervise restore "$PART.restore" "$TC" restore "$2"
}

# ---------------------------------------------------------------- parts

IBASH=(bash --norc --noprofile -i)

start_inner_bash() {
	outer "$PART-run"
	supervise run "$PART.run" env "PS1=inner\$ " "$TC" run --dir "$WORK/$PART-images" -- "${IBASH[@]}"
	wait_last '^inner\$$' "$T_PROMPT" "the inner bash's prompt"
	if pane "$WIN" | grep -qiE 'no job control|cannot set terminal process group|Inappropriate ioctl'; then
		fail "bash under trace-ckpt run has no job control"
	fi
}

part_plain() {
	start_inner_bash
	line 'echo "ok_$((6*7)) pid $$"'
	wait_pane '^ok_42 pid [0-9]+$' "$T_PROMPT" "the output of a command"
	# ^C at the prompt: the line is dropped, bash lives on
	typein 'echo never'
	wait_last '^inner\$ echo never$' "$T_PROMPT" "the typed line"
	key C-c
	# type on once bash has the ^C: under ptrace the signal takes a round
	# trip through the supervisor, and readline may take a key typed ahead
	# into the line it then drops
	wait_pane '^inner\$ echo never\^C$' "$T_PROMPT" "bash echoing the ^C"
	wait_last '^inner\$$' "$T_PROMPT" "a fresh prompt after ^C"
	line 'echo "alive $((1+1))"'
	wait_pane '^alive 2$' "$T_PROMPT" "bash after ^C at its prompt"
	pane "$WIN" | grep -q '^never$' && fail "^C at the prompt did not drop the line"
	# background job, jobs, fg, ^C
	line 'sleep 100 &'
	wait_pane '^\[1\] [0-9]+$' "$T_PROMPT" "the background job's number"
	line 'jobs'
	wait_pane '^\[1\]\+ +Running +sleep 100 &$' "$T_PROMPT" "'jobs' listing the sleep"
	line 'fg'
	wait_pane '^sleep 100$' "$T_PROMPT" "'fg' naming the job"
	wait_fg sleep
	key C-c
	wait_last '^inner\$$' "$T_PROMPT" "the prompt after ^C to the foreground job"
	line 'echo "fg rc=$?"'
	wait_pane '^fg rc=130$' "$T_PROMPT" "status 130 of the job killed by ^C"
	# ^Z, bg, kill
	line 'sleep 101'
	wait_fg sleep
	key C-z
	wait_pane '^\[1\]\+ +Stopped +sleep 101$' "$T_PROMPT" "the job stopped by ^Z"
	line 'bg'
	wait_pane '^\[1\]\+ sleep 101 &$' "$T_PROMPT" "'bg' resuming the job"
	line 'kill %1; wait %1; echo "killed rc=$?"'
	wait_pane '^killed rc=143$' "$T_PROMPT" "status 143 of the killed job"
	# a foreground program reading the terminal in canonical mode
	line 'cat'
	wait_fg cat
	line 'abc_input'
	wait_pane '^abc_input$' "$T_PROMPT" "the echo of the typed line"
	local deadline=$(( $(now_ms) + T_PROMPT * 1000 ))
	until [ "$(count_pane '^abc_input$')" -ge 2 ]; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "cat did not write back the line it read"
		sleep 0.1
	done
	key C-d
	wait_last '^inner\$$' "$T_PROMPT" "the prompt after ^D to cat"
	# a resize reaches the program's terminal
	tm resize-window -t "$SESSION:$WIN" -x 90 -y 25 || fail "tmux resize-window failed"
	line 'stty size'
	wait_pane '^25 90$' "$T_PROMPT" "'stty size' showing the new size 25 90"
	line 'exit'
	wait_rc "$T_EXIT"
	[ "$RC" = 0 ] || fail "trace-ckpt run exited $RC after 'exit', expected 0"
}

part_bash() {
	local pid img=$WORK/bash-img
	start_inner_bash
	line 'FOO=hello_$$; echo "one $FOO"'
	wait_pane '^one hello_[0-9]+$' "$T_PROMPT" "'one hello_PID'"
	pid=$(pane "$WIN" | sed -n 's/^one hello_\([0-9][0-9]*\)$/\1/p' | tail -n1)
	typein 'echo half'
	wait_last '^inner\$ echo half$' "$T_PROMPT" "the half-typed line"
	program_pid
	dump_kill "$img"

	restore_in bash-restore "$img"
	wait_restored
	# bash 5.2's readline does not repaint on a SIGWINCH that leaves the
	# size as it was, so the half line is not required on the screen
	local deadline=$(( $(now_ms) + 2 * SCALE * 1000 ))
	until pane "$WIN" | grep -qE '^inner\$ echo half$'; do
		if [ "$(now_ms)" -ge "$deadline" ]; then
			log "note: the restored bash did not redraw its half-typed line; typing on"
			break
		fi
		sleep 0.1
	done
	line '_typed; echo "$FOO"; echo "pid $$"; history | tail -n 3'
	deadline=$(( $(now_ms) + T_PROMPT * 1000 ))
	local missing
	while :; do
		missing=
		pane "$WIN" >"$WORK/bash.pane"
		grep -qE '^half_typed$' "$WORK/bash.pane" || missing="$missing, 'half_typed' (the line typed half before and half after)"
		grep -qE "^hello_$pid\$" "$WORK/bash.pane" || missing="$missing, 'hello_$pid' (\$FOO)"
		grep -qE "^pid $pid\$" "$WORK/bash.pane" || missing="$missing, 'pid $pid' (\$\$)"
		grep -qE '^ *[0-9]+ +FOO=hello_\$\$; echo "one \$FOO"$' "$WORK/bash.pane" ||
			missing="$missing, the history entry 'FOO=hello_\$\$; echo \"one \$FOO\"'"
		grep -qE '^ *[0-9]+ +echo half_typed; echo "\$FOO"' "$WORK/bash.pane" ||
			missing="$missing, the history entry 'echo half_typed; ...'"
		[ -n "$missing" ] || break
		[ ! -s "$RCFILE" ] || fail "trace-ckpt restore ended with status $(cat "$RCFILE"); missing: ${missing#, }"
		[ "$(now_ms)" -lt "$deadline" ] || fail "after the restore, missing: ${missing#, }"
		sleep 0.1
	done
	log "restored bash: half_typed, \$FOO, \$\$ and the history are there"
	# the new terminal is the restored shell's: size, job control
	line 'stty size'
	wait_pane "^$ROWS $COLS\$" "$T_PROMPT" "'stty size' showing $ROWS $COLS"
	line 'sleep 100 &'
	wait_pane '^\[1\] [0-9]+$' "$T_PROMPT" "the background job's number"
	line 'fg'
	wait_pane '^sleep 100$' "$T_PROMPT" "'fg' naming the job"
	wait_fg sleep
	key C-c
	wait_last '^inner\$$' "$T_PROMPT" "the prompt after ^C to the foreground job"
	line 'echo "fg rc=$?"'
	wait_pane '^fg rc=130$' "$T_PROMPT" "status 130 of the job killed by ^C"
	line 'exit'
	wait_rc "$T_EXIT"
	[ "$RC" = 0 ] || fail "trace-ckpt restore exited $RC after 'exit', expected 0"
}

# screen_body: the window less fills, without its prompt line
screen_body() { tm capture-pane -p -t "$SESSION:$WIN" -S 0 -E $((ROWS - 2)); }

part_less() {
	local file=$WORK/numbered.txt img=$WORK/less-img before top deadline
	command -v less >/dev/null || { log "SKIP [less]: no less"; return 77; }
	awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "line %04d %s\n", i, substr("abcdefghijklmnopqrstuvwxyz", i % 26 + 1) }' >"$file"
	outer less-run
	supervise run less.run "$TC" run --dir "$WORK/less-images" -- less "$file"
	wait_pane '^line 0001 ' "$T_PROMPT" "less showing the file"
	key j j j j j
	wait_pane '^line 0006 ' "$T_PROMPT" "less scrolled by 5 lines"
	key Space
	deadline=$(( $(now_ms) + T_PROMPT * 1000 ))
	until screen_body | head -n1 | grep -q '^line 00[1-9][0-9] '; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "less did not page down"
		sleep 0.1
	done
	# settled: the prompt is back and two looks 0.1 s apart agree
	deadline=$(( $(now_ms) + T_PROMPT * 1000 ))
	before=
	while :; do
		if pane "$WIN" | tail -n1 | grep -qx ':'; then
			[ -n "$before" ] && [ "$before" = "$(screen_body)" ] && break
			before=$(screen_body)
		fi
		[ "$(now_ms)" -lt "$deadline" ] || fail "less did not settle after paging down"
		sleep 0.1
	done
	top=$(head -n1 <<<"$before")
	log "less shows '$top' at the top"
	program_pid
	dump_kill "$img"

	restore_in less-restore "$img"
	wait_restored
	deadline=$(( $(now_ms) + T_RESTORE * 1000 ))
	until [ "$(screen_body)" = "$before" ]; do
		[ ! -s "$RCFILE" ] || fail "trace-ckpt restore ended with status $(cat "$RCFILE")"
		[ "$(now_ms)" -lt "$deadline" ] ||
			fail "the restored less did not redraw its screen in $T_RESTORE s (expected '$top' at the top; no SIGWINCH?)"
		sleep 0.1
	done
	log "restored less redrew the same screen"
	# single keys: the new terminal is in less's mode
	local n=${top#line }
	n=$((10#${n%% *} + 1))
	key j
	top=$(printf 'line %04d ' "$n")
	deadline=$(( $(now_ms) + T_PROMPT * 1000 ))
	until screen_body | head -n1 | grep -q "^$top"; do
		[ ! -s "$RCFILE" ] || fail "trace-ckpt restore ended with status $(cat "$RCFILE")"
		[ "$(now_ms)" -lt "$deadline" ] || fail "'j' did not scroll the restored less to '$top'"
		sleep 0.1
	done
	key q
	wait_rc "$T_EXIT"
	[ "$RC" = 0 ] || fail "trace-ckpt restore exited $RC after 'q', expected 0"
}

# ---------------------------------------------------------------- main

[ -n "$TC" ] || { echo "tty_tmux.sh: no trace-ckpt (--tc or TRACE_CKPT)" >&2; exit 2; }
command -v tmux >/dev/null || { log "SKIP: no tmux"; exit 77; }
command -v bash >/dev/null || { log "SKIP: no bash"; exit 77; }
[ "$(id -u)" -eq 0 ] || { log "SKIP: needs root (restore uses PID namespaces)"; exit 77; }
[ -x "$TC" ] || { log "FAIL: trace-ckpt not found at $TC"; exit 1; }
TC=$(readlink -f "$TC")
[ -z "${TRACE_CKPT_STUB:-}" ] || TRACE_CKPT_STUB=$(readlink -f "$TRACE_CKPT_STUB")
unset TMUX
WORK=$(mktemp -d "${TC_TEST_TMPDIR:-/tmp}/tc-tty-tmux.XXXXXX") || { log "FAIL: mktemp"; exit 1; }
mkdir -p "$WORK/home"
cd "$WORK" || exit 1
log "work directory $WORK; tmux -L $SOCK; trace-ckpt $TC"

failed=()
passed=()
skipped=()
for PART in "${PARTS[@]}"; do
	log "---- part $PART"
	( "part_$PART" )
	rc=$?
	case $rc in
	0) passed+=("$PART"); log "ok: part $PART" ;;
	77) skipped+=("$PART") ;;
	*) failed+=("$PART") ;;
	esac
	# what the windows showed, for a look; what the part left running
	# goes before the next one
	for w in $(tm list-windows -t "$SESSION" -F '#{window_name}' 2>/dev/null); do
		tm capture-pane -p -S - -t "$SESSION:$w" >"$WORK/$w.pane" 2>/dev/null
	done
	for p in $(our_processes); do kill -KILL "$p" 2>/dev/null; done
	tm kill-server 2>/dev/null
done
log "passed: ${passed[*]:-none}; failed: ${failed[*]:-none}; skipped: ${skipped[*]:-none}"
if [ ${#failed[@]} -gt 0 ]; then
	exit 1
fi
RESULT=pass
[ ${#passed[@]} -gt 0 ] || exit 77
exit 0
