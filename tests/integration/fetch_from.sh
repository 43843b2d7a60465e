#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fetch_from.sh TRACE_CKPT COUNTER: restore --fetch-from HOST DIR, the image
# being on HOST's disk only (a node-local checkpoint directory).  A stand-in
# ssh first in PATH plays HOST: it runs the command it is given with the
# directory's path replaced by another one, so one machine has two disks.
# What HOST sends is hostile until its manifest verifies:
#   1. its manifest altered: refused (MAC), nothing left here
#   2. a core altered: copied, but the restore refuses it (checksum) and
#      runs nothing
#   3. a file longer than its manifest says: refused, nothing left here
#   4. a file missing there: refused, nothing left here
#   5. the image as it was: fetched, restored, the counter goes on from its
#      tick; a second restore of the same DIR copies nothing
set -u
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
TC=$(readlink -f "$1")
COUNTER=$(readlink -f "$2")
WORK=$(mktemp -d /tmp/tc-fetch-from.XXXXXX)
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	kill_pids KILL
	[ "${TC_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || exit 1
HERE=$WORK/here/ck	# where the restore looks (absent)
THERE=$WORK/there/ck	# where "the other host" has it
mkdir -p "$WORK/bin" "$WORK/there"
cat >"$WORK/bin/ssh" <<EOF
#!/bin/bash
# ssh [-o X]... [--] HOST COMMAND: COMMAND here, $HERE read as $THERE.
while [ "\$#" -gt 0 ]; do
	case \$1 in
	-o) shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
[ "\$1" = otherhost ] || { echo "ssh: unknown host \$1" >&2; exit 255; }
echo "\$2" >>"$WORK/ssh.log"
here='$HERE' there='$THERE'
exec bash -c "\${2//"\$here"/"\$there"}"
EOF
chmod 0755 "$WORK/bin/ssh"
export PATH=$WORK/bin:$PATH

"$TC" run -- "$COUNTER" -n 80 -i 20 >"$WORK/run.out" 2>&1 </dev/null &
RUN=$!
PIDS+=("$RUN")
wait_until 30 "ticks" has_ticks "$WORK/run.out" 10
PROG=$(prog_in "$WORK" "$COUNTER")
[ -n "$PROG" ] || fail "no counter"
"$TC" dump "$PROG" -D "$THERE" --kill >/dev/null || fail "dump --kill"
wait "$RUN"
AT=$(last_tick "$WORK/run.out")
cp -a "$THERE" "$WORK/good"
CORE=$(cd "$THERE" && find . -name 'proc-*.core' | head -n 1)
CORE=${CORE#./}

# restore --fetch-from otherhost HERE; its exit status, output in $WORK/$1.*
restore_from() {
	"$TC" restore --fetch-from otherhost "$HERE" >"$WORK/$1.out" 2>"$WORK/$1.err" </dev/null &
	local pid=$!
	PIDS+=("$pid")
	wait_until 60 "restore ($1) to end" test ! -e "/proc/$pid"
	wait "$pid"
}
# A byte of FILE (under THERE) changed at OFFSET.
flip() {
	local f=$THERE/$1 b
	b=$(od -An -tu1 -j "$2" -N1 "$f" | tr -d ' ')
	printf '%b' "\\$(printf '%03o' $(((b + 1) % 256)))" |
		dd of="$f" bs=1 seek="$2" count=1 conv=notrunc status=none
}
nothing_here() {
	[ ! -e "$HERE" ] || fail "$1: $HERE is here after a refused fetch"
	! compgen -G "$HERE.fetch-*" >/dev/null || fail "$1: a temporary directory is left: $(echo "$HERE".fetch-*)"
}
put_back() { rm -rf "$THERE" "$HERE"; cp -a "$WORK/good" "$THERE"; }

# 1. The manifest altered (a byte in its middle).
flip manifest $(($(stat -c %s "$THERE/manifest") / 2))
restore_from manifest && fail "an altered manifest was fetched: $(cat "$WORK/manifest.err")"
grep -q "MAC does not match\|checksum" "$WORK/manifest.err" || fail "manifest: $(cat "$WORK/manifest.err")"
nothing_here manifest
log "1. altered manifest: $(grep -m1 "fetch-from otherhost:" "$WORK/manifest.err")"
put_back

# 2. A core altered in its pages: copied as listed, refused by the restore.
flip "$CORE" $(($(stat -c %s "$THERE/$CORE") - 100))
restore_from core && fail "an altered core was restored: $(cat "$WORK/core.err")"
grep -q "checksum mismatch" "$WORK/core.err" || fail "core: $(cat "$WORK/core.err")"
grep -q '^tick' "$WORK/core.out" && fail "the program ran from an altered core"
log "2. altered core: $(grep -m1 "checksum mismatch" "$WORK/core.err")"
put_back

# 3. A file longer than its manifest says.
echo x >>"$THERE/$CORE"
restore_from long && fail "a longer file was fetched: $(cat "$WORK/long.err")"
grep -q "more bytes than its manifest lists" "$WORK/long.err" || fail "long: $(cat "$WORK/long.err")"
nothing_here long
log "3. file too long: $(grep -m1 "more bytes" "$WORK/long.err")"
put_back

# 4. A file missing there.
rm -f "$THERE/$CORE"
restore_from missing && fail "an image without its core was fetched: $(cat "$WORK/missing.err")"
grep -q "fetch-from otherhost:" "$WORK/missing.err" || fail "missing: $(cat "$WORK/missing.err")"
nothing_here missing
log "4. file missing: $(grep -m1 "fetch-from otherhost:" "$WORK/missing.err")"
put_back

# 5. As it was: fetched, restored, the counter goes on from where it was.
: >"$WORK/ssh.log"
restore_from good
RC=$?
[ "$RC" = 0 ] || fail "restore --fetch-from exited $RC: $(cat "$WORK/good.err")"
grep -q "is not here: fetching it from otherhost" "$WORK/good.err" || fail "good: $(cat "$WORK/good.err")"
has_pass "$WORK/good.out" || fail "no PASS after the restore: $(tail -3 "$WORK/good.out")"
FIRST=$(first_tick "$WORK/good.out")
[ "$FIRST" = $((AT + 1)) ] || fail "restored at tick $FIRST, dumped after tick $AT"
[ "$(wc -l <"$WORK/ssh.log")" = 2 ] || fail "2 ssh expected (manifest, files): $(cat "$WORK/ssh.log")"
# Here now: nothing copied again.
restore_from again || fail "the second restore: $(cat "$WORK/again.err")"
grep -q "fetching" "$WORK/again.err" && fail "fetched again though here"
[ "$(wc -l <"$WORK/ssh.log")" = 2 ] || fail "ssh ran again: $(cat "$WORK/ssh.log")"
log "5. fetched and restored at tick $FIRST (dumped after $AT): $(grep -m1 fetching "$WORK/good.err")"
echo PASS
