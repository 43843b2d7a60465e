#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# time_limit.sh --tc TRACE_CKPT --counter COUNTER: the README's batch script
# with a real time limit and Slurm's own warning signal, no scancel:
#
#   #SBATCH --time=1 --signal=B:USR1@50 --requeue --open-mode=append
#   exec trace-ckpt run --dir DIR --resume --checkpoint-on USR1 --requeue -- counter
#
# The program needs more than one time limit's worth of work; each run is
# signalled when 50 s or less are left (Slurm looks every 30 s, so 10-40 s
# into the run), checkpoints, requeues itself, and the next run goes on.
# Checked: at least one requeue, every run that ended did so by the
# checkpoint (none by TIMEOUT), ticks consecutive to PASS, job COMPLETED.
# Takes 1-3 minutes.
set -u
. "$(dirname "$0")/lib.sh"

TC='' COUNTER='' TICKS=2000
while (($#)); do
	case $1 in
	--tc) TC=$(realpath "$2"); shift 2 ;;
	--counter) COUNTER=$(realpath "$2"); shift 2 ;;
	*) echo "usage: time_limit.sh --tc TRACE_CKPT --counter COUNTER" >&2; exit 2 ;;
	esac
done
[[ -x $TC && -x $COUNTER ]] || { echo "time_limit.sh: --tc and --counter" >&2; exit 2; }

slurm_setup time-limit
OUT=$WORK/out
cat >"$WORK/job.sh" <<EOF
#!/bin/bash
#SBATCH --time=1 --signal=B:USR1@50 --requeue --open-mode=append
echo "run \${SLURM_RESTART_COUNT:-0} on \$(hostname)"
exec "$TC" run --dir "$WORK/ck" --resume --checkpoint-on USR1 --requeue -- "$COUNTER" -n $TICKS -i 20
EOF
chmod 0755 "$WORK/job.sh"
JOB=$(sl_user sbatch --parsable -J tc-time-limit -D "$WORK" -o "$OUT" "$WORK/job.sh") ||
	fail "sbatch refused the job"
JOB=${JOB%%;*}
echo "$JOB" >"$WORK/jobs"
log "job $JOB submitted by $TC_TEST_USER; output $OUT"

# Until it is done: a requeued job waits cred_expire + 1 s; let it go at once.
deadline=$(($(date +%s) + 240))
while :; do
	state=$(job_field "$JOB" JobState)
	case $state in
	COMPLETED) break ;;
	PENDING)
		if [[ $(job_field "$JOB" Restarts) != 0 ]]; then
			release_requeued "$JOB" 2>/dev/null
		fi
		;;
	RUNNING | CONFIGURING | COMPLETING | REQUEUED) ;;
	*) cat "$OUT" >&2; fail "job $JOB is $state" ;;
	esac
	(($(date +%s) < deadline)) || { cat "$OUT" >&2; fail "job $JOB not done in 240 s ($state)"; }
	sleep 0.2
done

grep -v '^tick ' "$OUT" >&2
ticks_check "$OUT" || fail "the output does not go on exactly across the runs"
restarts=$(job_field "$JOB" Restarts)
ckpts=$(count_of "$OUT" '^trace-ckpt run: SIGUSR1: checkpoint: ')
((restarts >= 1)) || fail "never requeued: the time limit's signal did not come"
((ckpts == restarts)) || fail "$restarts requeues but $ckpts checkpoints"
grep -q "DUE TO TIME LIMIT" "$OUT" && fail "a run was ended by the time limit"
log "PASS: $((restarts + 1)) runs of at most 1 minute each, checkpoints at Slurm's SIGUSR1: $ckpts, ticks 1..$TICKS exactly once"
