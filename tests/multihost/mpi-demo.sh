#!/bin/bash
# shellcheck disable=SC2317,SC2054 # cleanup() runs from the EXIT trap; commas are MCA values
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mpi-demo.sh [--mpich] [--rounds R] [--interval-ms M]
#
# Runs mpi_ring.c as 4 ranks over 2 namespace hosts (2 per host), launched
# from host 1 with the MPI's ssh launcher, checks rank 0's output (READY,
# tick 1..R, result, PASS) and tears everything down.
#
# Default: Debian's Open MPI (openmpi-bin, libopenmpi-dev; installed with
# apt-get if missing).  What it needs here:
#   --allow-run-as-root                     (we are root)
#   OMPI_MCA_plm_rsh_agent=STATE/bin/ssh    the per-run ssh wrapper (plain
#                                           ssh works too inside the hosts)
#   --mca pml ob1 --mca btl self,vader,tcp  TCP between hosts, shared memory
#   --mca btl_tcp_if_include eth0           within one; only the veth
#   --mca oob_tcp_if_include eth0
#   --mca mpi_yield_when_idle 1             4 busy-polling ranks on 2 CPUs:
#                                           300 rounds 4.4 s -> 0.5 s
# and the hosts must have different hostnames (hosts.sh gives each its own
# UTS namespace): Open MPI tells nodes apart by name.
#
# --mpich: MPICH (mpich, libmpich-dev), mpiexec.hydra -hosts h1:2,h2:2.  Its
# UCX device takes namespaces on one machine for one node (same boot id) and
# moves inter-host messages through shared memory unless UCX_TLS=self,tcp,
# which this sets; with it, runs here sometimes hang in MPI_Finalize after
# PASS, so it is not the default.
#
# Exit: 0 passed, 1 failed, 77 skipped (not root, no namespaces, no MPI).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mpi=openmpi rounds=100 interval=0
while (($#)); do
	case $1 in
	--mpich) mpi=mpich ;;
	--rounds) rounds=$2; shift ;;
	--interval-ms) interval=$2; shift ;;
	*) echo "usage: $0 [--mpich] [--rounds R] [--interval-ms M]" >&2; exit 2 ;;
	esac
	shift
done

if [[ $(id -u) != 0 ]]; then
	echo "SKIP: mpi-demo needs root (network namespaces)"
	exit 77
fi
# shellcheck source=hosts.sh
source "$here/hosts.sh"
if ! hosts_available; then
	echo "SKIP: cannot make namespace hosts here"
	exit 77
fi

if [[ $mpi == openmpi ]]; then
	mpicc=mpicc.openmpi mpirun=mpirun.openmpi pkgs=(openmpi-bin libopenmpi-dev)
else
	mpicc=mpicc.mpich mpirun=mpiexec.hydra pkgs=(mpich libmpich-dev)
fi
if ! command -v "$mpicc" >/dev/null || ! command -v "$mpirun" >/dev/null; then
	echo "mpi-demo: installing ${pkgs[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get -y -q install --no-install-recommends "${pkgs[@]}" >&2 ||
		{ apt-get -q update >&2 &&
		  DEBIAN_FRONTEND=noninteractive apt-get -y -q install --no-install-recommends "${pkgs[@]}" >&2; }
	if ! command -v "$mpicc" >/dev/null || ! command -v "$mpirun" >/dev/null; then
		echo "SKIP: $mpicc or $mpirun missing and ${pkgs[*]} could not be installed"
		exit 77
	fi
fi

prefix=tcmh-m$$x
tmp=$(mktemp -d /tmp/mpi-demo.XXXXXX)
pid=
cleanup()
{
	[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
	hosts_down "$prefix"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s.%N; }
t0=$(now)
"$mpicc" -O2 -g -Wall -Wextra -Werror -o "$tmp/mpi_ring" "$here/mpi_ring.c" || exit 1
t1=$(now)
hosts_up "$prefix" 2 92 || exit 1
t2=$(now)

state=$(hosts_state "$prefix")
h1=${prefix}1 h2=${prefix}2
if [[ $mpi == openmpi ]]; then
	cmd=(env OMPI_MCA_plm_rsh_agent="$state/bin/ssh"
	     "$mpirun" --allow-run-as-root -np 4 --host "$h1:2,$h2:2"
	     --mca pml ob1 --mca btl self,vader,tcp
	     --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0
	     --mca mpi_yield_when_idle 1)
else
	cmd=(env UCX_TLS=self,tcp
	     "$mpirun" -launcher ssh -launcher-exec "$state/bin/ssh" -n 4 -hosts "$h1:2,$h2:2")
fi
cmd+=("$tmp/mpi_ring" -n "$rounds" -i "$interval")

host_exec 1 timeout -k 5 50 "${cmd[@]}" >"$tmp/out" 2>"$tmp/err" </dev/null &
pid=$!
wait "$pid"
rc=$?
pid=
t3=$(now)

status=0
if ((rc != 0)); then
	if ((rc == 124 || rc == 137)); then
		echo "FAIL: $mpirun did not end within 50 s"
	else
		echo "FAIL: $mpirun exited with $rc"
	fi
	status=1
fi
if ! awk -v want="$rounds" '
	function fail(m) { print "rank 0 output: " m; bad = 1; exit 1 }
	NR == 1 { if ($0 != "READY") fail("first line is not READY: " $0); next }
	/^tick / { if ($2 != t + 1) fail("tick " $2 " after tick " t); t = $2; next }
	/^result 0x[0-9a-f]+ ranks 4 rounds / { if (t != want) fail("result after " t " ticks"); res = 1; next }
	$0 == "PASS" { if (!res) fail("PASS without a result"); pass = 1; next }
	{ fail("unexpected line: " $0) }
	END { if (!bad && !pass) { print "rank 0 output: no PASS"; exit 1 } }' "$tmp/out"; then
	status=1
fi
if ((status)); then
	echo "--- stdout (last lines)"; tail -n 5 "$tmp/out"
	echo "--- stderr (last lines)"; tail -n 20 "$tmp/err"
	exit 1
fi
grep '^result' "$tmp/out"
rm -rf "$tmp"
hosts_down "$prefix"
t4=$(now)
awk -v m="$mpi" -v r="$rounds" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" \
	'BEGIN { printf "PASS: %s, 4 ranks on 2 hosts, %d rounds: build %.2fs, hosts up %.2fs, mpirun %.2fs, down %.2fs\n", m, r, b - a, c - b, d - c, e - d }'
exit 0
