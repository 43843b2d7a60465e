#!/bin/bash
# shellcheck disable=SC2317 # cleanup() runs from the EXIT trap
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ring-demo.sh [--ssh] [--hosts N] [--rounds R] [--interval-ms M] [-s SIZE]
#
# Brings up N namespace hosts (default 3, hosts.sh), runs one ring node per
# host (ring.c) until every node prints PASS, checks every node's output
# (READY, tick 1..R with no gap, PASS, no BAD) and tears everything down.
# --ssh starts nodes 2..N with ssh from host 1 instead of ip netns exec.
# Exit: 0 passed, 1 failed, 77 skipped (not root, no namespaces).
# RING=/path/to/ring uses a built binary; otherwise ring.c is compiled with
# cc into the run's temp dir.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
n=3 rounds=200 interval=5 mem=0 via=netns
while (($#)); do
	case $1 in
	--ssh) via=ssh ;;
	--hosts) n=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	--interval-ms) interval=$2; shift ;;
	-s) mem=$2; shift ;;
	*) echo "usage: $0 [--ssh] [--hosts N] [--rounds R] [--interval-ms M] [-s SIZE]" >&2; exit 2 ;;
	esac
	shift
done

if [[ $(id -u) != 0 ]]; then
	echo "SKIP: ring-demo needs root (network namespaces)"
	exit 77
fi
# shellcheck source=hosts.sh
source "$here/hosts.sh"
if ! hosts_available; then
	echo "SKIP: cannot make namespace hosts here"
	exit 77
fi

prefix=tcmh-r$$x
tmp=$(mktemp -d /tmp/ring-demo.XXXXXX)
pids=()
cleanup()
{
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$tmp"
	hosts_down "$prefix"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s.%N; }
t0=$(now)

if [[ -n ${RING:-} ]]; then
	ring=$RING
else
	ring=$tmp/ring
	cc -O2 -g -Wall -Wextra -Werror -o "$ring" "$here/ring.c" || exit 1
fi
t1=$(now)

hosts_up "$prefix" "$n" 91 || exit 1
t2=$(now)

port=7000
for ((i = 0; i < n; i++)); do
	h=$((i + 1))
	next=$prefix$(((i + 1) % n + 1))
	args=(--id "$i" --n "$n" --listen "$port" --next "$next:$port"
	      --rounds "$rounds" --interval-ms "$interval" -s "$mem"
	      --timeout-ms 20000 --connect-timeout-ms 20000)
	if [[ $via == ssh && $h != 1 ]]; then
		host_exec 1 ssh "$prefix$h" "$ring" "${args[*]}" \
			>"$tmp/node$i.out" 2>"$tmp/node$i.err" </dev/null &
	else
		host_exec "$h" "$ring" "${args[@]}" >"$tmp/node$i.out" 2>"$tmp/node$i.err" </dev/null &
	fi
	pids+=($!)
done

# bounded wait for every node
deadline=$(($(date +%s) + 45))
status=0
for ((i = 0; i < n; i++)); do
	while kill -0 "${pids[i]}" 2>/dev/null && (($(date +%s) < deadline)); do
		sleep 0.05
	done
	if kill -0 "${pids[i]}" 2>/dev/null; then
		echo "FAIL: node $i still running after the deadline"
		status=1
		continue
	fi
	wait "${pids[i]}" || { echo "FAIL: node $i exited with $?"; status=1; }
done
t3=$(now)

for ((i = 0; i < n; i++)); do
	if ! awk -v want="$rounds" '
		function fail(m) { print "node output: " m; bad = 1; exit 1 }
		NR == 1 { if ($0 != "READY") fail("first line is not READY: " $0); next }
		/^tick / { if ($2 != t + 1) fail("tick " $2 " after tick " t); t = $2; next }
		$0 == "PASS" { if (t != want) fail("PASS after " t " ticks"); pass = 1; next }
		{ fail("unexpected line: " $0) }
		END { if (!bad && !pass) { print "node output: no PASS"; exit 1 } }' "$tmp/node$i.out"; then
		echo "FAIL: node $i output above is wrong; last lines:"
		tail -n 3 "$tmp/node$i.out" "$tmp/node$i.err"
		status=1
	fi
done

hosts_down "$prefix"
t4=$(now)
if ((status == 0)); then
	awk -v n="$n" -v via="$via" -v r="$rounds" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" \
		'BEGIN { printf "PASS: ring of %d hosts (%s), %d rounds: build %.2fs, hosts up %.2fs, ring %.2fs, down %.2fs\n", n, via, r, b - a, c - b, d - c, e - d }'
fi
exit $status
