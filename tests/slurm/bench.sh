#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench.sh --tc TRACE_CKPT --bigmem BIGMEM [--sizes "64M 1G"]: numbers for a
# job on one node under the test cluster (cluster.sh), per memory size:
#
#   signal -> checkpoint written   what run --checkpoint-on says (from the
#                                  moment it reads the signal)
#   scancel -> checkpoint seen     from scancel --batch --signal=USR1 to the
#                                  line in the job's output (polled, 20 ms)
#   batch start -> running         the requeued job's batch script starts ->
#                                  run says "resumed" (polled, 20 ms)
#   restore                        what run --resume says
#
# One line per size on stdout.  Not a test: nothing is asserted but that
# each step happens.  Slurm's own delays (cred_expire, scheduling) are left
# out: the requeued job is released with StartTime=now.
set -u
. "$(dirname "$0")/lib.sh"

TC='' BIGMEM='' SIZES="64M 1G"
while (($#)); do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--bigmem) BIGMEM=$(realpath "$2"); shift 2 ;;
	--sizes) SIZES=$2; shift 2 ;;
	*) echo "usage: bench.sh --tc TRACE_CKPT --bigmem BIGMEM [--sizes \"64M 1G\"]" >&2; exit 2 ;;
	esac
done
[[ -x $TC && -x $BIGMEM ]] || { echo "bench.sh: --tc and --bigmem" >&2; exit 2; }

slurm_setup bench
: >"$WORK/jobs"
printf '%-6s %12s %12s %14s %10s %10s\n' size "sig->ckpt" "scancel->seen" "start->running" restore image
for size in $SIZES; do
	out=$WORK/out-$size
	cat >"$WORK/job-$size.sh" <<-EOF
	#!/bin/bash
	echo "start \$(date +%s.%N)"
	exec "$TC" run --dir "$WORK/ck-$size" --resume --checkpoint-on USR1 --requeue -- "$BIGMEM" -s $size -n 100000 -i 50 -q
	EOF
	chmod 0755 "$WORK/job-$size.sh"
	job=$(sl_user sbatch --parsable --requeue --open-mode=append -J "tc-bench-$size" -D "$WORK" \
		-o "$out" "$WORK/job-$size.sh") || fail "sbatch"
	job=${job%%;*}
	echo "$job" >>"$WORK/jobs"
	wait_for "$size: tick 3" 300 eval '(($(last_tick "$out") >= 3))' || fail "$size: no ticks"
	t0=$(now)
	sl_user scancel --batch --signal=USR1 "$job" || fail "scancel"
	wait_for "$size: checkpoint" 300 eval 'grep -q "^trace-ckpt run: SIGUSR1: checkpoint" "$out"' ||
		{ cat "$out" >&2; fail "$size: no checkpoint"; }
	t1=$(now)
	wait_for "$size: requeued" 60 eval '[[ $(job_field "$job" JobState) == PENDING ]]' ||
		fail "$size: not requeued"
	release_requeued "$job" || fail "releasing the requeued job"
	wait_for "$size: resumed" 300 eval 'grep -q "^trace-ckpt run: resumed from" "$out"' ||
		{ cat "$out" >&2; fail "$size: not resumed"; }
	t2=$(now)
	start=$(sed -n 's/^start //p' "$out" | tail -1)
	sig=$(sed -n 's/.*signal to checkpoint written \([0-9.]*\) ms.*/\1/p' "$out" | head -1)
	res=$(sed -n 's/^trace-ckpt run: resumed from .* in \([0-9.]*\) ms$/\1/p' "$out" | head -1)
	img=$(sed -n 's/.*(generation 1, \([0-9.]* [KMG]iB\),.*/\1/p' "$out" | head -1)
	printf '%-6s %9s ms %9s ms %11s ms %7s ms %10s\n' "$size" "$sig" "$(ms_between "$t0" "$t1")" \
		"$(ms_between "$start" "$t2")" "$res" "$img"
	sl_root scancel "$job"
	wait_for "$size: ended" 60 eval '[[ $(job_field "$job" JobState) != RUNNING ]]'
	rm -rf "$WORK/ck-$size"
done
