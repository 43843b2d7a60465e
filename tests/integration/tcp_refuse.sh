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
# A server outside, the client inside.
"$PY" -c "import socket, sys, time
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)
print(l.getsockname()[1], flush=True)
c, _ = l.accept(); time.sleep(60)" >"$WORK/server.port" &
PIDS+=($!)
wait_until 20 "the outside server" grep -qs '^[0-9]' "$WORK/server.port"
port=$(head -n1 "$WORK/server.port")

one_case() { refused_dump "$1" "" "import socket
$2" "$3"; }
one_case outside "c = socket.create_connection(('127.0.0.1', $port))" \
	"its peer is not in the computation (a process outside it).*refused before anything stopped"
one_case pending "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)
c = socket.create_connection(l.getsockname())" "waits in the accept queue of pid"
one_case urgent "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
c.send(b'!', socket.MSG_OOB)" "urgent data (MSG_OOB) not read"
echo PASS
