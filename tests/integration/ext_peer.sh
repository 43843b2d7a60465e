#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ext_peer.sh TRACE_CKPT [busy]: redis-server in the computation, its client
# outside.  The server is dumped with --kill and restored; the client keeps
# its one TCP connection throughout (TCP_REPAIR, and the network lock
# meanwhile) and every INCR answer must be the next number.  With busy, the
# client keeps 16 INCRs in flight without a pause, so its bytes arrive while
# the server's socket is being read.  Exit 77 when redis-server, nft or
# root is missing.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$1
MODE=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip: not root"; exit 77; }
command -v redis-server >/dev/null || { echo "skip: no redis-server"; exit 77; }
command -v nft >/dev/null || { echo "skip: no nft"; exit 77; }
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/tc-ext-peer.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids TERM
	sleep 0.2
	kill_pids KILL
}
trap cleanup EXIT
# shellcheck disable=SC2317  # called by fail
fail_details() {
	echo "----- ss"
	ss -tinoem state all "( sport = :$PORT or dport = :$PORT )" 2>&1
	echo "----- nft"
	nft list ruleset 2>&1 | grep -B3 -A3 "$PORT"
}
# wait_line FILE REGEX SECONDS: until a line of FILE matches REGEX
wait_line() {
	wait_until "$3" "'$2' in $(basename "$1")" grep -qsE "$2" "$1"
}
PORT=$((30000 + RANDOM % 20000))
"$TC" run --dir "$WORK/images" -- redis-server --port "$PORT" --save "" --appendonly no \
	--bind 127.0.0.1 >"$WORK/run.out" 2>"$WORK/run.err" </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_line "$WORK/run.out" "Ready to accept connections" 30
if [ "$MODE" = busy ]; then
	"$PY" "$HERE/ext_client.py" "$PORT" --busy "$WORK/stop" >"$WORK/client.out" \
		2>"$WORK/client.err" </dev/null &
	FIRST='^tick 2000$'
else
	"$PY" "$HERE/ext_client.py" "$PORT" 400 >"$WORK/client.out" 2>"$WORK/client.err" </dev/null &
	FIRST='^tick 40$'
fi
CLIENT=$!
PIDS+=("$CLIENT")
wait_line "$WORK/client.out" "$FIRST" 30
PROG=$("$TC" list | awk -v p="--port $PORT" 'index($0, p) { print $1; exit }')
[ -n "$PROG" ] || fail "redis-server not found in trace-ckpt list"
"$TC" dump "$PROG" -D "$WORK/img" --kill >"$WORK/dump.out" 2>"$WORK/dump.err" ||
	fail "dump: $(cat "$WORK/dump.err")"
wait "$RUN"
before=$(tail -n 1 "$WORK/client.out" | sed -n 's/^tick //p')
"$TC" restore "$WORK/img" >"$WORK/restore.out" 2>"$WORK/restore.err" </dev/null &
PIDS+=("$!")
if [ "$MODE" = busy ]; then
	# Answers go on well past where they were, then the client drains and stops.
	wait_line "$WORK/client.out" "^tick $((before + 2000))\$" 90
	touch "$WORK/stop"
fi
wait_line "$WORK/client.out" '^PASS$' 90
grep -q '^BAD\|Error' "$WORK/client.out" "$WORK/client.err" && fail "the client saw: $(cat "$WORK/client.err" "$WORK/client.out" | grep -m1 'BAD\|Error')"
echo "ok: client at tick $before when the server was dumped and killed; it went on to PASS"
rm -rf "$WORK"
exit 0
