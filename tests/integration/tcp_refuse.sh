#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tcp_refuse.sh TRACE_CKPT: what the drain path (TRACE_CKPT_TCP=drain, or no
# TCP_REPAIR) refuses, by name, at dump time, the program running on:
#   - a connection to a process outside the computation;
#   - a connection its listener has not accepted yet;
#   - urgent data (MSG_OOB) not read.
# Each program prints READY once its connection is made, then waits; after
# the refused dump it must still be there and say ALIVE when asked (stdin).
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
PY=$(command -v python3) || { echo "skip: no python3"; exit 77; }
export TRACE_CKPT_TCP=drain
WORK=$(mktemp -d "${TC_TEST_TMPDIR:-/tmp}/tc-tcprefuse.XXXXXX")
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
says() { grep -q "$2" "$1" 2>/dev/null; }

# case NAME PYTHON-SETUP EXPECTED-MESSAGE
one_case() {
	local name=$1 setup=$2 want=$3 sup pid out
	mkfifo "$WORK/$name.in"
	printf 'import socket, sys\n%s\nprint("READY", flush=True)\nsys.stdin.readline()\nprint("ALIVE", flush=True)\n' \
		"$setup" >"$WORK/$name.py"
	"$TC" run -- "$PY" "$WORK/$name.py" <"$WORK/$name.in" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	sup=$!
	PIDS+=("$sup")
	exec 9>"$WORK/$name.in"
	wait_until 20 "$name: READY" says "$WORK/$name.out" '^READY$'
	pid=$("$TC" list | awk -v s="(supervisor $sup," 'index($0, s) { print $1 }')
	[ -n "$pid" ] || fail "$name: supervisor $sup not listed"
	if out=$("$TC" dump "$pid" -D "$WORK/$name.img" 2>&1); then
		fail "$name: the dump was not refused: $out"
	fi
	grep -q -- "$want" <<<"$out" || fail "$name: expected '$want', got: $out"
	[ ! -e "$WORK/$name.img" ] || fail "$name: an image was left"
	echo >&9
	exec 9>&-
	wait_until 20 "$name: the program going on (ALIVE)" says "$WORK/$name.out" '^ALIVE$'
	log "$name: $out"
}

# A server outside, the client inside.
"$PY" -c "import socket, sys, time
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)
print(l.getsockname()[1], flush=True)
c, _ = l.accept(); time.sleep(60)" >"$WORK/server.port" &
PIDS+=($!)
wait_until 20 "the outside server" says "$WORK/server.port" '^[0-9]'
port=$(head -n1 "$WORK/server.port")

one_case outside "c = socket.create_connection(('127.0.0.1', $port))" \
	"its peer is not in the computation (a process outside it).*refused before anything stopped"
one_case pending "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)
c = socket.create_connection(l.getsockname())" "waits in the accept queue of pid"
one_case urgent "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
c.send(b'!', socket.MSG_OOB)" "urgent data (MSG_OOB) not read"
echo PASS
