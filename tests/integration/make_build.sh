#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make_build.sh: `make -j2` of a small generated C project, checkpointed
# mid-build by the driver.
#
#   make_build.sh [-f FILES] [-s SLEEP] [-j JOBS]
#
# Generates FILES (default 30) C sources, a main.c and a Makefile in the
# current directory, builds them once without pauses into mkref/ (the
# uninterrupted reference), prints READY, then builds the same sources in
# mkbuild/ with `make -jJOBS` where every recipe sleeps SLEEP seconds
# first, so the build is slow enough to be dumped while gcc, sleep and make
# are running.  Every finished recipe (each object, then the link) prints
# "tick N" under a lock, N counting up from 1.  At the end the objects and
# the program must be byte-identical to the reference build and print the
# same; then PASS.  Output as tc_test.h: READY, tick N, BAD <what>, PASS.
set -u

FILES=30
SLEEP=0.4
JOBS=2
while getopts f:s:j: opt; do
	case $opt in
	f) FILES=$OPTARG ;;
	s) SLEEP=$OPTARG ;;
	j) JOBS=$OPTARG ;;
	*) echo "usage: $0 [-f FILES] [-s SLEEP] [-j JOBS]" >&2; exit 2 ;;
	esac
done

bad() {
	printf 'BAD %s\n' "$*"
	exit 1
}

# gen DIR: the project
gen() {
	local d=$1 i objs=
	rm -rf "$d"
	mkdir -p "$d" || bad "mkdir $d"
	for i in $(seq 1 "$FILES"); do
		cat >"$d/f$i.c" <<-EOC
		unsigned long f$i(unsigned long x)
		{
			unsigned long h = x ^ ${i}ul;
			for (int k = 0; k < $((i % 7 + 3)); k++)
				h = h * 6364136223846793005ul + ${i}ul * 1442695040888963407ul;
			return h ^ (h >> $((i % 29 + 3)));
		}
		EOC
		objs="$objs f$i.o"
	done
	{
		echo '#include <stdio.h>'
		for i in $(seq 1 "$FILES"); do echo "unsigned long f$i(unsigned long);"; done
		echo 'int main(void)'
		echo '{'
		echo '	unsigned long h = 1;'
		for i in $(seq 1 "$FILES"); do
			echo "	h = f$i(h);"
			printf '\tprintf("f%s %%lx\\n", h);\n' "$i"
		done
		echo '	return 0;'
		echo '}'
	} >"$d/main.c"
	cat >"$d/tick.sh" <<-'EOT'
	# one tick per finished recipe, numbered under a lock
	exec 9>>tick.lock
	flock 9 || exit 1
	n=$(cat tick.count 2>/dev/null || echo 0)
	n=$((n + 1))
	echo "$n" >tick.count.new && mv tick.count.new tick.count || exit 1
	echo "tick $n"
	EOT
	# shellcheck disable=SC2016  # make's variables, not the shell's
	{
		echo "OBJS =$objs main.o"
		echo 'PAUSE = 0'
		echo 'TICK = true'
		echo 'prog: $(OBJS)'
		printf '\t@sleep $(PAUSE) && $(CC) -o $@ $(OBJS) && $(TICK)\n'
		echo '%.o: %.c'
		printf '\t@sleep $(PAUSE) && $(CC) -O2 -c -o $@ $< && $(TICK)\n'
	} >"$d/Makefile"
}

export LC_ALL=C
gen mkref
make -s -C mkref -j"$JOBS" >mkref.log 2>&1 || bad "reference build failed: $(tail -n3 mkref.log | tr '\n' ' ')"
./mkref/prog >mkref.out || bad "reference program failed"
gen mkbuild
printf 'READY\n'
make -s -C mkbuild -j"$JOBS" PAUSE="$SLEEP" TICK='sh ./tick.sh' 2>mkbuild.err ||
	bad "make -j$JOBS failed: $(tail -n3 mkbuild.err | tr '\n' ' ')"
[ "$(cat mkbuild/tick.count)" -eq $((FILES + 2)) ] ||
	bad "$(cat mkbuild/tick.count) recipes ran, expected $((FILES + 2))"
./mkbuild/prog >mkbuild.out || bad "the program built after the restore failed"
cmp -s mkref.out mkbuild.out || bad "the program built prints something else than the reference"
for o in mkref/*.o mkref/prog; do
	b=mkbuild/${o#mkref/}
	cmp -s "$o" "$b" || bad "$b differs from the uninterrupted build's $o"
done
sums() { (cd "$1" && sha256sum ./*.o prog); }
[ "$(sums mkref)" = "$(sums mkbuild)" ] || bad "checksums of the built objects differ"
printf 'PASS\n'
