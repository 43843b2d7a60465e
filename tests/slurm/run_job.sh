#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run_job.sh --tc TRACE_CKPT --counter COUNTER: run --resume,
# --checkpoint-on and --requeue without Slurm (as whoever runs it; as root
# the suite runs it again as the test user through tests/as_user.sh):
#
#   - options that do not go together, a signal that cannot be chosen,
#     --requeue outside a Slurm job: usage errors (2), nothing run;
#   - --resume with nothing in DIR starts CMD; SIGUSR1 checkpoints it and
#     ends it (exit 138, "checkpoint:" said); --resume then goes on from
#     it, a second SIGUSR1 makes generation 2, a third --resume runs to
#     PASS: ticks consecutive across the three runs;
#   - the leftover of a checkpoint killed while it wrote is swept, and the
#     image before it used;
#   - a damaged manifest (one byte changed) is refused by name (exit 1) and
#     CMD does not run;
#   - a SIGUSR1 whose checkpoint fails (DIR below a regular file) is said,
#     and the program runs on to PASS.
set -u

TC='' COUNTER=''
while (($#)); do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--counter) COUNTER=$(realpath "$2"); shift 2 ;;
	*) echo "usage: run_job.sh --tc TRACE_CKPT --counter COUNTER" >&2; exit 2 ;;
	esac
done
[[ -x $TC && -x $COUNTER ]] || { echo "run_job.sh: --tc and --counter" >&2; exit 2; }

log() { echo "run_job: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

WORK=$(mktemp -d /tmp/tc-run-job.XXXXXX) || exit 1
SUP=
cleanup()
{
	local rc=$?
	[[ -n $SUP ]] && kill -KILL "$SUP" 2>/dev/null
	chmod -R u+w "$WORK" 2>/dev/null
	if ((rc == 0)) && [[ -z ${TC_KEEP:-} ]]; then
		rm -rf "$WORK"
	else
		log "work directory kept: $WORK"
	fi
	exit $rc
}
trap cleanup EXIT
OUT=$WORK/out
CK=$WORK/ck

last_tick()
{
	[[ -e $1 ]] || { echo 0; return; }
	awk '/^tick [0-9]+$/ { n = $2 } END { print n + 0 }' "$1"
}

# Poll CMD every 20 ms for up to TIMEOUT s.
wait_for()
{
	local desc=$1 timeout=$2 deadline
	shift 2
	deadline=$(($(date +%s) + timeout))
	until "$@"; do
		(($(date +%s) < deadline)) || { log "timed out waiting for: $desc"; return 1; }
		sleep 0.02
	done
}

# expect_usage DESC ARGS...: exit 2, and the marker CMD never ran.
expect_usage()
{
	local desc=$1 rc
	shift
	rm -f "$WORK/ran"
	env -u SLURM_JOB_ID "$TC" run "$@" -- touch "$WORK/ran" 2>"$WORK/err"
	rc=$?
	((rc == 2)) || fail "$desc: exit $rc, expected 2 ($(cat "$WORK/err"))"
	[[ ! -e $WORK/ran ]] || fail "$desc: CMD ran"
	log "refused: $desc: $(head -1 "$WORK/err")"
}

expect_usage "--resume without --dir" --resume
expect_usage "--requeue without --checkpoint-on" --dir "$CK" --requeue
expect_usage "--requeue outside a Slurm job" --dir "$CK" --checkpoint-on USR1 --requeue
expect_usage "--checkpoint-on KILL" --dir "$CK" --checkpoint-on KILL
expect_usage "--checkpoint-on CHLD" --dir "$CK" --checkpoint-on SIGCHLD
expect_usage "--checkpoint-on nonsense" --dir "$CK" --checkpoint-on 0
rm -f "$WORK/ran"
SLURM_JOB_ID='1;touch x' "$TC" run --dir "$CK" --checkpoint-on USR1 --requeue -- touch "$WORK/ran" \
	2>"$WORK/err"
[[ $? == 2 && ! -e $WORK/ran ]] || fail "a SLURM_JOB_ID that is not a number was taken"

# One run of the job line: started in the background, its pid in SUP.
start_run()
{
	"$TC" run --dir "$CK" --resume --checkpoint-on usr1 -- "$COUNTER" -n 300 -i 20 >>"$OUT" 2>&1 &
	SUP=$!
}

# Signal the run once it is TICKS ticks past FROM; it must end with 138.
checkpoint_run()
{
	local want=$(($2 + 25)) gen=$1 rc
	wait_for "tick $want" 30 eval '(($(last_tick "$OUT") >= want))' || { cat "$OUT" >&2; fail "no ticks"; }
	kill -USR1 "$SUP"
	wait "$SUP"
	rc=$?
	SUP=
	((rc == 138)) || { cat "$OUT" >&2; fail "run ended $rc after SIGUSR1, expected 138"; }
	grep -q "^trace-ckpt run: SIGUSR1: checkpoint: $CK (generation $gen," "$OUT" ||
		{ cat "$OUT" >&2; fail "no checkpoint of generation $gen said"; }
	[[ -e $CK/manifest ]] || fail "no image in $CK"
}

start_run
checkpoint_run 1 0
grep -q "^trace-ckpt run: resumed" "$OUT" && fail "the first run resumed from nothing"
at1=$(last_tick "$OUT")
# What a checkpoint killed while it wrote leaves (a temporary directory with
# part of an image, its writer's lock free): the image in DIR is still the
# one to go on from, and the leftover is swept.
mkdir -m 0700 "$CK.tmp-k1ll3d" && echo partial >"$CK.tmp-k1ll3d/manifest" && : >"$CK.tmp-k1ll3d.lock" ||
	fail "cannot fake a killed writer's leftover"
start_run
checkpoint_run 2 "$at1"
[[ $(grep -c "^trace-ckpt run: resumed from $CK (generation 1)" "$OUT") == 1 ]] ||
	{ cat "$OUT" >&2; fail "the second run did not resume from generation 1"; }
[[ ! -e $CK.tmp-k1ll3d ]] || fail "the leftover of a killed checkpoint was not swept"
at2=$(last_tick "$OUT")
start_run
wait "$SUP"
rc=$?
SUP=
((rc == 0)) || { cat "$OUT" >&2; fail "the last run ended $rc"; }
grep -q "^trace-ckpt run: resumed from $CK (generation 2)" "$OUT" || fail "the third run did not resume"
grep -q BAD "$OUT" && { grep BAD "$OUT" >&2; fail "BAD"; }
grep -qx PASS "$OUT" || fail "no PASS"
awk '/^tick [0-9]+$/ { if ($2 != p + 1) { print "tick " $2 " after " p; bad = 1 } p = $2 }
     END { exit bad || p != 300 }' "$OUT" >&2 || fail "ticks do not go on exactly"
log "3 runs: checkpoints at ticks $at1 and $at2, resumed twice, ticks 1..300 once each"

# One byte of the manifest changed: refused by name, nothing runs.
cp -a "$CK" "$WORK/bad"
printf 'X' | dd of="$WORK/bad/manifest" bs=1 seek=40 conv=notrunc status=none
rm -f "$WORK/ran"
"$TC" run --dir "$WORK/bad" --resume -- touch "$WORK/ran" 2>"$WORK/err"
rc=$?
((rc == 1)) || fail "a damaged manifest: exit $rc, expected 1"
[[ ! -e $WORK/ran ]] || fail "a damaged manifest: CMD ran"
grep -q "$WORK/bad/manifest" "$WORK/err" || fail "a damaged manifest was not named: $(cat "$WORK/err")"
log "refused: $(head -1 "$WORK/err")"

# A checkpoint that cannot be written (DIR below a regular file: no
# permission bits, which the user namespace of rootless mode overrides on
# the user's own files): said in the supervisor's log (never in the
# program's own output), whose path run gives at the end, and the program
# runs on.
: >"$WORK/afile"
: >"$WORK/out2"
"$TC" run --dir "$WORK/afile/ck" --checkpoint-on USR1 -- "$COUNTER" -n 100 -i 20 >>"$WORK/out2" 2>&1 &
SUP=$!
wait_for "tick 20" 30 eval '(($(last_tick "$WORK/out2") >= 20))' || fail "no ticks"
kill -USR1 "$SUP"
wait "$SUP"
rc=$?
SUP=
((rc == 0)) || { cat "$WORK/out2" >&2; fail "a failed checkpoint: run ended $rc, expected 0"; }
suplog=$(sed -n 's/.*what the supervisor had to say while the program ran: \(.*\) ([0-9]* lines\{0,1\})$/\1/p' "$WORK/out2")
[[ -n $suplog && -f $suplog ]] || { cat "$WORK/out2" >&2; fail "run did not name its log"; }
grep -q "checkpoint at SIGUSR1 failed, the program runs on" "$suplog" ||
	{ cat "$WORK/out2" "$suplog" >&2; fail "the failed checkpoint was not said"; }
if grep -q "checkpoint at SIGUSR1 failed" "$WORK/out2"; then
	fail "the supervisor wrote into the program's output"
fi
said=$(grep -o 'checkpoint at SIG.*' "$suplog")
rm -f "$suplog"
grep -qx PASS "$WORK/out2" || fail "no PASS after the failed checkpoint"
log "a failed checkpoint at SIGUSR1, in the supervisor's log: $said"
log "PASS"
