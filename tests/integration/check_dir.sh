#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# check_dir.sh TRACE_CKPT COUNTER TCPECHO: `check DIR` says whether a
# restore would start here, one line per problem, and exits 0 or 1 to say
# so, starting nothing:
#   - a fresh image: 0, "a restore would start here";
#   - the image of a program still running (leave-running) that listens on a
#     port: 1, the port named; once the program is gone: 0;
#   - its executable replaced since the dump: 1, the file named;
#   - an attached program's image while it still runs: 1, its pid in use and
#     --new-pidns named; with --new-pidns no such line (rootless: 0, a
#     rootless restore always has a pid namespace of its own);
#   - as an ordinary user, no problem with the bounding set this machine's
#     root lacks (the restore runs in a user namespace of its own).
# And `check PID`: a dump of a counter would work (0, its size and an
# estimate of the time), one of a program in a nested pid namespace would
# be refused (1, said why); neither writes an image, both run on.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
COUNTER=$(readlink -f "$2")
TCPECHO=$(readlink -f "$3")
WORK=$(mktemp -d /tmp/tc-check-dir.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
# check_says NAME WANT_RC PATTERN ARGS...: check ARGS exits WANT_RC and says PATTERN
check_says() {
	local name=$1 want=$2 pat=$3 rc
	shift 3
	"$TC" check "$@" >"$WORK/$name.out" 2>&1
	rc=$?
	[ "$rc" -eq "$want" ] || fail "$name: check exited $rc, expected $want: $(cat "$WORK/$name.out")"
	grep -qE -- "$pat" "$WORK/$name.out" || fail "$name: no '$pat' in: $(cat "$WORK/$name.out")"
	echo "$name: $(grep -m1 -E -- "$pat" "$WORK/$name.out")"
}

# 1. a fresh image
mkdir "$WORK/a" && cd "$WORK/a" || exit 1
"$TC" run -- "$COUNTER" -n 100000 -i 20 >run.out 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "ticks" has_ticks run.out 3
"$TC" dump "$(prog_in "$WORK/a" "$COUNTER")" -D "$WORK/a/img" --kill >/dev/null || fail "dump a"
wait "$RUN"
check_says fresh 0 '^a restore would start here$' "$WORK/a/img"

# 2. a port in use
mkdir "$WORK/b" && cd "$WORK/b" || exit 1
"$TC" run -- "$TCPECHO" -n 100000 -i 20 >run.out 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "ticks" has_ticks run.out 3
"$TC" dump "$(prog_in "$WORK/b" "$TCPECHO")" -D "$WORK/b/img" >/dev/null || fail "dump b"
check_says port 1 '^problem: pid [0-9]+ fd [0-9]+: port [0-9]+/tcp is in use on this host' \
	"$WORK/b/img"
grep -q '^a restore would not start here' "$WORK/port.out" || fail "port: no verdict"
kill -TERM "$RUN"
wait "$RUN"
wait_until 30 "the program to end" test -z "$(prog_in "$WORK/b" "$TCPECHO")"
check_says port-free 0 '^a restore would start here$' "$WORK/b/img"

# 3. the executable replaced
mkdir "$WORK/c" "$WORK/c/bin" && cd "$WORK/c" || exit 1
cp "$COUNTER" bin/counter
"$TC" run -- "$WORK/c/bin/counter" -n 100000 -i 20 >run.out 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "ticks" has_ticks run.out 3
"$TC" dump "$(prog_in "$WORK/c" "$WORK/c/bin/counter")" -D "$WORK/c/img" --kill >/dev/null ||
	fail "dump c"
wait "$RUN"
cp "$TCPECHO" bin/counter.new && mv bin/counter.new bin/counter
check_says changed 1 "^problem: pid [0-9]+: $WORK/c/bin/counter (changed since the dump|is gone)" \
	"$WORK/c/img"
# One file changed is one problem (the explanation after it is none).
grep -qx 'a restore would not start here (1 problem)' "$WORK/changed.out" ||
	fail "changed: not one problem: $(cat "$WORK/changed.out")"

# 4. an attached program's pids, still in use
mkdir "$WORK/d" && cd "$WORK/d" || exit 1
# Only its own fds: what the test was started with is no part of it.
python3 -c 'import os, sys; os.closerange(3, 65536); os.execv(sys.argv[1], sys.argv[1:])' \
	"$COUNTER" -n 100000 -i 20 >prog.out 2>&1 </dev/null &
PROG=$!
PIDS+=("$PROG")
wait_until 30 "ticks" has_ticks prog.out 2
"$TC" attach "$PROG" >attach.out 2>&1 </dev/null &
PIDS+=($!)
wait_until 30 "the attach" grep -q supervising attach.out
"$TC" dump "$PROG" -D "$WORK/d/img" >/dev/null || fail "dump d"
if [ "$(id -u)" -eq 0 ]; then
	check_says pid-in-use 1 "^problem: pid $PROG is in use on this host: restore --new-pidns" \
		"$WORK/d/img"
else
	# Rootless, a restore always makes a pid namespace of its own.
	check_says pid-in-use-rootless 0 '^a restore would start here$' "$WORK/d/img"
fi
"$TC" check --new-pidns "$WORK/d/img" >"$WORK/new-pidns.out" 2>&1
grep -q "pid $PROG is in use" "$WORK/new-pidns.out" && fail "--new-pidns: the pid is still named"

# 5. check PID
mkdir "$WORK/e" && cd "$WORK/e" || exit 1
"$TC" run --dir "$WORK/e/img" -- "$COUNTER" -n 100000 -i 20 >run.out 2>&1 </dev/null &
PIDS+=($!)
wait_until 30 "ticks" has_ticks run.out 3
pid=$(prog_in "$WORK/e" "$COUNTER")
check_says pid-ok 0 '^a dump would work: about [0-9.]+ MiB to write, 1 process' "$pid"
grep -q '^estimate: ' "$WORK/pid-ok.out" || fail "pid-ok: no estimate: $(cat "$WORK/pid-ok.out")"
[ ! -e "$WORK/e/img" ] || fail "check PID wrote an image"
t=$(last_tick run.out)
wait_until 30 "the program to go on" has_ticks run.out $((t + 2))
if command -v unshare >/dev/null; then
	mkdir "$WORK/f" && cd "$WORK/f" || exit 1
	# An ordinary user needs a user namespace to make a pid namespace.
	userns=()
	[ "$(id -u)" -eq 0 ] || userns=(--user --map-root-user)
	"$TC" run -- unshare "${userns[@]}" --pid --fork "$COUNTER" -n 100000 -i 20 \
		>run.out 2>&1 </dev/null &
	PIDS+=($!)
	wait_until 30 "ticks" has_ticks run.out 3
	pid=$(prog_in "$WORK/f" "$COUNTER")
	check_says pid-refused 1 'pid namespace of its own' "$pid"
	t=$(last_tick run.out)
	wait_until 30 "the program to go on" has_ticks run.out $((t + 2))
fi

# 6. every refusal at once, not the first only: two sockets and an fd of
# kinds not kept, each said in one line with the way past it
mkdir "$WORK/g" && cd "$WORK/g" || exit 1
cat >prog.py <<'PY'
import os, socket, sys, time
kept = [socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0),
        socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15),
        os.pidfd_open(os.getpid())]
n = 0
while True:
    n += 1
    print("tick", n, flush=True)
    time.sleep(0.02)
PY
"$TC" run -- /usr/bin/python3 "$WORK/g/prog.py" >run.out 2>&1 </dev/null &
PIDS+=($!)
wait_until 30 "ticks" has_ticks run.out 3
pid=$(prog_in "$WORK/g" "$(readlink -f /usr/bin/python3)")
check_says refusals 1 '^3 things a dump would refuse:$' "$pid"
[ "$(grep -c '^problem: pid [0-9]* fd [34]: AF_NETLINK socket' "$WORK/refusals.out")" -eq 2 ] ||
	fail "refusals: not each fd named: $(cat "$WORK/refusals.out")"
grep -q '^problem: pid [0-9]* fd 5: anon_inode:\[pidfd\]: not supported; .*close it before a checkpoint' \
	"$WORK/refusals.out" || fail "refusals: the pidfd, or the way past it: $(cat "$WORK/refusals.out")"
[ "$(grep '^problem: ' "$WORK/refusals.out" | grep -vc 'not supported; ')" -eq 0 ] ||
	fail "refusals: a line without the way past it: $(cat "$WORK/refusals.out")"
t=$(last_tick run.out)
wait_until 30 "the program to go on" has_ticks run.out $((t + 2))
echo PASS
