#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# filecheck.sh TRACE_CKPT COUNTER CPUCLAIM: a restore refuses files that
# changed since the dump, and a CPU that lacks the image's features, by name,
# before any process is created; a dump refuses a nested pid namespace, by
# name, before anything stops.
#
#   exe      COUNTER copied to a work directory, run from there, dumped
#            --kill; the copy rebuilt (its build-id changed, same size):
#            restore refused, nothing started; --ignore-changed-files warns
#            and the program goes on to PASS
#   lib      a program linked with a tiny .so, the .so overwritten in place by
#            one of the same size with one constant changed: refused by
#            build-id; the first .so copied back (a new mtime, the same
#            build-id): restores, to PASS
#   data     a mapped data file truncated: refused by size; removed: refused
#   cpu      an image edited (CPUCLAIM, checksum kept) to claim avx512pf and
#            avx512er: refused, naming both
#   pidns    run -- unshare -p -f COUNTER: dump refused by name, no image, the
#            program keeps running
#   userns   the same inside unshare --user --map-current-user --mount --pid --fork
#
# Needs root, cc and python3 (the build-id edit); 77 without them.
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
COUNTER=$(readlink -f "$2")
CPUCLAIM=$(readlink -f "$3")
[ "$(id -u)" -eq 0 ] || { echo "skip: not root"; exit 77; }
command -v cc >/dev/null || { echo "skip: no cc"; exit 77; }
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
WORK=$(mktemp -d /tmp/tc-filecheck.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local p
	kill_pids KILL
	# Whatever runs from the work directory is ours.
	for p in $(progs_in "$WORK"); do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT
no_bad() { ! grep -q '^BAD' "$1"; }
# progs_in DIR: pids of processes whose executable is in DIR
progs_in() {
	local f exe
	for f in /proc/[0-9]*/exe; do
		exe=$(readlink "$f" 2>/dev/null) || continue
		case $exe in "$1"/*) f=${f#/proc/}; echo "${f%/exe}" ;; esac
	done
}
# ended PID: gone, or a zombie (our children stay until waited for)
# shellcheck disable=SC2317  # called through wait_until
ended() {
	local st
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 0
	st=${st##*) }
	[ "${st%% *}" = Z ]
}

# start_run TAG CMD...: trace-ckpt run -- CMD, output in TAG.out/TAG.err, pid in RUN
start_run() {
	local tag=$1
	shift
	"$TC" run -- "$@" >"$WORK/$tag.out" 2>"$WORK/$tag.err" </dev/null &
	RUN=$!
	PIDS+=("$RUN")
}

# dump_kill TAG EXE IMG: dump the computation running EXE with --kill into IMG
dump_kill() {
	local tag=$1 exe=$2 img=$3 pid
	wait_until 30 "ticks of $tag" has_ticks "$WORK/$tag.out" 3
	pid=$(progs_in "$(dirname "$exe")" | head -n1)
	[ -n "$pid" ] || fail "$tag: the program is not running"
	timeout -k 5 60 "$TC" dump "$pid" -D "$img" --kill >"$WORK/$tag-dump.out" \
		2>"$WORK/$tag-dump.err" || fail "$tag: dump failed: $(cat "$WORK/$tag-dump.err")"
	wait_until 30 "the end of run ($tag)" ended "$RUN"
}

# refused TAG IMG PATTERN [ARGS...]: restore ARGS IMG fails, saying PATTERN,
# with nothing started
refused() {
	local tag=$1 img=$2 pattern=$3 rc
	shift 3
	timeout -k 5 60 "$TC" restore "$@" "$img" >"$WORK/$tag.out" 2>"$WORK/$tag.err" </dev/null
	rc=$?
	[ "$rc" -eq 1 ] || fail "$tag: restore exited $rc, expected 1 (refused)"
	grep -qE "$pattern" "$WORK/$tag.err" ||
		fail "$tag: restore did not say '$pattern': $(cat "$WORK/$tag.err")"
	grep -qE '^tick ' "$WORK/$tag.out" && fail "$tag: the program ran"
	[ -z "$(progs_in "$WORK")" ] || fail "$tag: processes left running: $(progs_in "$WORK")"
	echo "ok: $tag: $(head -n1 "$WORK/$tag.err")"
}

# restored TAG IMG ARGS...: restore ARGS IMG runs the program on to PASS
restored() {
	local tag=$1 img=$2
	shift 2
	local pid
	"$TC" restore "$@" "$img" >"$WORK/$tag.out" 2>"$WORK/$tag.err" </dev/null &
	pid=$!
	PIDS+=("$pid")
	wait_until 60 "PASS ($tag)" has_pass "$WORK/$tag.out"
	no_bad "$WORK/$tag.out" || fail "$tag: $(grep -m1 '^BAD' "$WORK/$tag.out")"
	wait_until 30 "the end of restore ($tag)" ended "$pid"
}

cd "$WORK" || exit 1

# ---------------------------------------------------------------- exe
mkdir exe && cp "$COUNTER" exe/prog
start_run exe-run "$WORK/exe/prog" -n 400 -i 20
dump_kill exe-run "$WORK/exe/prog" img-exe
# A rebuild that changes nothing but the build-id: the size stays the same,
# so only the build-id can tell, and the program still runs right.
id=$(python3 - "$WORK/exe/prog" <<'EOF'
import subprocess, sys
path = sys.argv[1]
out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
bid = [l.split()[-1] for l in out.splitlines() if "Build ID" in l][0]
data = bytearray(open(path, "rb").read())
at = data.find(bytes.fromhex(bid))
assert at > 0 and data.find(bytes.fromhex(bid), at + 1) < 0
data[at] ^= 0xff
open(path, "r+b").write(data)
print(bid)
EOF
) || fail "could not edit the build-id of exe/prog"
refused exe-refused img-exe "pid [0-9]+: $WORK/exe/prog changed since the dump \\(build-id $id now [0-9a-f]+\\)"
restored exe-ignored img-exe --ignore-changed-files
grep -q "$WORK/exe/prog changed since the dump .*going on (--ignore-changed-files)" \
	"$WORK/exe-ignored.err" || fail "exe: no warning with --ignore-changed-files"
[ "$(grep -c 'changed since the dump' "$WORK/exe-ignored.err")" -eq 1 ] ||
	fail "exe: not one warning per file"
echo "ok: exe: --ignore-changed-files warned once and the program went on to PASS"

# ---------------------------------------------------------------- lib
mkdir lib && cd lib || exit 1
cat >k.c <<'EOF'
int k_value(void) { return K; }
EOF
cat >uselib.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int k_value(void);
int main(int argc, char **argv)
{
	int n = atoi(argv[1]);
	struct timespec ts = { 0, 20 * 1000000L };

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("READY\n");
	for (int i = 1; i <= n; i++) {
		if (k_value() != 1234567)
			printf("BAD k_value() = %d\n", k_value());
		printf("tick %d\n", i);
		nanosleep(&ts, NULL);
	}
	printf("PASS\n");
	return 0;
}
EOF
{ cc -shared -fPIC -O1 -DK=1234567 -o libk1.so k.c &&
	cc -shared -fPIC -O1 -DK=7654321 -o libk2.so k.c &&
	cp libk1.so libk.so &&
	cc -O1 -o uselib uselib.c -L. -lk -Wl,-rpath,"$WORK/lib"; } || fail "cannot build the library test"
cd "$WORK" || exit 1
[ "$(stat -c %s lib/libk1.so)" = "$(stat -c %s lib/libk2.so)" ] || fail "the two libraries differ in size"
cmp -s lib/libk1.so lib/libk2.so && fail "the two libraries are the same"
start_run lib-run "$WORK/lib/uselib" 400
dump_kill lib-run "$WORK/lib/uselib" img-lib
# In place: the same inode, the same size, another constant.
cp lib/libk2.so lib/libk.so
refused lib-refused img-lib "pid [0-9]+: $WORK/lib/libk.so changed since the dump \\(build-id [0-9a-f]+ now [0-9a-f]+\\)"
# The right contents again, with a new mtime: the build-id says it is the same.
touch -d '2001-01-01' lib/libk1.so
cp lib/libk1.so lib/libk.so
restored lib-restored img-lib
grep -q 'changed since the dump' "$WORK/lib-restored.err" && fail "lib: a copy with the same build-id was called changed"
echo "ok: lib: the same build-id with another mtime restores to PASS"

# ---------------------------------------------------------------- data
mkdir data && cd data || exit 1
cat >mapdata.c <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	int n = atoi(argv[2]), fd = open(argv[1], O_RDONLY);
	const unsigned char *m = mmap(NULL, 65536, PROT_READ, MAP_PRIVATE, fd, 0);
	struct timespec ts = { 0, 20 * 1000000L };

	if (fd < 0 || m == MAP_FAILED)
		return 1;
	close(fd);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("READY\n");
	for (int i = 1; i <= n; i++) {
		unsigned long sum = 0;

		for (int k = 0; k < 65536; k++)
			sum += m[k];
		if (sum != 65536ul * 'x')
			printf("BAD sum %lu\n", sum);
		printf("tick %d\n", i);
		nanosleep(&ts, NULL);
	}
	printf("PASS\n");
	return 0;
}
EOF
cc -O1 -o mapdata mapdata.c || fail "cannot build the data test"
head -c 65536 /dev/zero | tr '\0' x >table.dat
cd "$WORK" || exit 1
start_run data-run "$WORK/data/mapdata" "$WORK/data/table.dat" 400
dump_kill data-run "$WORK/data/mapdata" img-data
truncate -s 32768 data/table.dat
refused data-refused img-data "pid [0-9]+: $WORK/data/table.dat changed since the dump \\(size 65536 now 32768\\)"
rm data/table.dat
refused data-missing img-data "pid [0-9]+: $WORK/data/table.dat is gone since the dump"

# ---------------------------------------------------------------- cpu
mkdir cpu && cp "$COUNTER" cpu/prog
start_run cpu-run "$WORK/cpu/prog" -n 400 -i 20
dump_kill cpu-run "$WORK/cpu/prog" img-cpu
"$CPUCLAIM" img-cpu >cpuclaim.out 2>&1
rc=$?
if [ "$rc" -eq 77 ]; then
	echo "skip: cpu: $(cat cpuclaim.out)"
else
	[ "$rc" -eq 0 ] || fail "cpuclaim failed: $(cat cpuclaim.out)"
	"$TC" show img-cpu | grep -q 'features: .*avx512pf, avx512er' ||
		fail "cpu: show does not list the claimed features"
	refused cpu-refused img-cpu "this CPU lacks avx512pf, avx512er \\(the image was made on [A-Za-z]+ family [0-9]+ model [0-9]+; this is "
	# Not a file: the option about files does not get past it.
	refused cpu-refused-ignore img-cpu "this CPU lacks avx512pf, avx512er" --ignore-changed-files
fi

# ---------------------------------------------------------------- pidns
mkdir pidns && cp "$COUNTER" pidns/prog
start_run pidns-run unshare -p -f "$WORK/pidns/prog" -n 1000 -i 20
wait_until 30 "ticks of pidns-run" has_ticks "$WORK/pidns-run.out" 3
pid=$(progs_in "$WORK/pidns" | head -n1)
[ -n "$pid" ] || fail "pidns: the program is not running"
timeout -k 5 60 "$TC" dump "$pid" -D img-pidns --kill >pidns-dump.out 2>pidns-dump.err
rc=$?
[ "$rc" -ne 0 ] || fail "pidns: dump of a nested pid namespace succeeded"
[ "$rc" -ne 124 ] || fail "pidns: dump timed out"
grep -qE "pid $pid \\(tc-counter\\): in a pid namespace of its own \\(nested namespaces are not supported yet\\); the program keeps running" \
	pidns-dump.err || fail "pidns: dump did not refuse by name: $(cat pidns-dump.err)"
[ -e img-pidns ] && fail "pidns: an image was written"
t=$(last_tick pidns-run.out)
wait_until 30 "the program to go on after the refusal" has_ticks pidns-run.out $((t + 3))
kill -0 "$RUN" 2>/dev/null || fail "pidns: run ended after the refused dump"
no_bad pidns-run.out || fail "pidns: $(grep -m1 '^BAD' pidns-run.out)"
echo "ok: pidns: $(head -n1 pidns-dump.err)"
# shellcheck disable=SC2046  # pids, one word each
kill -KILL "$RUN" $(progs_in "$WORK/pidns") 2>/dev/null

# ---------------------------------------------------------------- userns
# A rootless container's way: user, mount and pid namespaces at once.
mkdir userns && cp "$COUNTER" userns/prog
start_run userns-run unshare --user --map-current-user --mount --pid --fork \
	"$WORK/userns/prog" -n 1000 -i 20
wait_until 30 "ticks of userns-run" has_ticks "$WORK/userns-run.out" 3
pid=$(progs_in "$WORK/userns" | head -n1)
[ -n "$pid" ] || fail "userns: the program is not running"
timeout -k 5 60 "$TC" dump "$pid" -D img-userns --kill >userns-dump.out 2>userns-dump.err
rc=$?
{ [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; } || fail "userns: dump exited $rc, expected a refusal"
grep -qE "pid $pid \\(tc-counter\\): in a (pid|user|mount) namespace of its own \\(nested namespaces are not supported yet\\); the program keeps running" \
	userns-dump.err || fail "userns: dump did not refuse by name: $(cat userns-dump.err)"
[ -e img-userns ] && fail "userns: an image was written"
t=$(last_tick userns-run.out)
wait_until 30 "the program to go on after the refusal" has_ticks userns-run.out $((t + 3))
no_bad userns-run.out || fail "userns: $(grep -m1 '^BAD' userns-run.out)"
echo "ok: userns: $(head -n1 userns-dump.err)"

cd / && rm -rf "$WORK"
exit 0
