/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zombie: a zombie and an orphan must come back as they were.
 *
 * The main process M forks Z, which exits 42 at once; M leaves it a zombie
 * until round TARGET/2.  Until then, every round, waitid(WNOWAIT) must find
 * Z exited with 42 and /proc/Z/stat must say Z; in round TARGET/2
 * waitpid(Z) must reap exactly Z with status 42, and afterwards Z is gone
 * (ECHILD).  M also forks I, which forks G and exits 7: G is an orphan,
 * re-parented to the init of the PID namespace, or to M itself with -s
 * (M is then a child subreaper, PR_SET_CHILD_SUBREAPER).  Every round M
 * sends G the round over one pipe and G answers over another; G checks that
 * it is still an orphan (with -s: that M is still its parent), M that G's
 * answer is right.  At the end M closes the pipe, G exits 0, and M reaps G
 * with -s, or must not be able to reap it without.
 *
 *   zombie [-s] [-n TARGET] [-i INTERVAL_MS]
 */
#include "tc_io.h"

#define ZSTATUS 42
#define ISTATUS 7

struct answer {
	uint64_t round, mix;
	int64_t pid, ppid;
};

static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = tc_read_file(path, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		tc_bad("%s: cannot parse '%s'", path, buf);
	return p[2];
}

/* The zombie must be there, unreaped, with its status. */
static void check_zombie(pid_t z)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)z, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		tc_bad("waitid(WNOWAIT) for the zombie %d: %s", (int)z, strerror(errno));
	if (si.si_pid != z || si.si_code != CLD_EXITED || si.si_status != ZSTATUS)
		tc_bad("zombie %d: waitid says pid %d code %d status %d, expected exit %d",
		       (int)z, (int)si.si_pid, si.si_code, si.si_status, ZSTATUS);
	if (proc_state(z) != 'Z')
		tc_bad("zombie %d is in state %c", (int)z, proc_state(z));
}

static void orphan(int req, int ans, pid_t first_parent, pid_t main_pid, int subreaper)
{
	uint64_t deadline = tc_now_ns() + 20ull * 1000000000, round;
	pid_t parent;

	tc_proc_init("zombie-orphan");
	/* wait, bounded, for I to exit and for us to be re-parented */
	while ((parent = getppid()) == first_parent) {
		if (tc_now_ns() > deadline)
			tc_bad("orphan: still a child of %d after 20 s", (int)first_parent);
		tc_sleep_ms(1, 0);
	}
	if (subreaper && parent != main_pid)
		tc_bad("orphan: re-parented to %d, not to the subreaper %d", (int)parent,
		       (int)main_pid);
	if (!subreaper && parent == main_pid)
		tc_bad("orphan: re-parented to %d, which is no subreaper", (int)parent);
	for (;;) {
		struct answer a;

		if (tc_read_full(req, &round, sizeof(round), 600000, "orphan") == 0)
			_exit(0);
		a.round = round;
		a.mix = tc_mix(round ^ 0x5a5a);
		a.pid = getpid();
		a.ppid = getppid();
		if (subreaper ? a.ppid != main_pid : (a.ppid == first_parent || a.ppid == main_pid))
			tc_bad("orphan: parent is now %d (was re-parented to %d, subreaper %d)",
			       (int)a.ppid, (int)parent, subreaper ? (int)main_pid : 0);
		tc_proc_check();
		tc_write_full(ans, &a, sizeof(a), "orphan");
	}
}

int main(int argc, char **argv)
{
	struct tc_opts o = { .target = 300, .interval_ms = 20 };
	int subreaper = 0, c, req[2], ans[2], info[2];
	pid_t z, i, g, me;
	long half;

	while ((c = getopt(argc, argv, "n:i:s")) != -1) {
		if (tc_common_opt(c, optarg, &o))
			continue;
		if (c == 's') {
			subreaper = 1;
			continue;
		}
		fprintf(stderr, "usage: %s [-s] [-n TARGET] [-i INTERVAL_MS]\n", argv[0]);
		return 2;
	}
	if (o.target < 2)
		o.target = 2;
	half = o.target / 2;
	tc_proc_init("zombie");
	me = getpid();
	if (subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		tc_bad("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	if (pipe(req) < 0 || pipe(ans) < 0 || pipe(info) < 0)
		tc_bad("pipe: %s", strerror(errno));

	z = fork();
	if (z < 0)
		tc_bad("fork: %s", strerror(errno));
	if (z == 0)
		_exit(ZSTATUS);

	i = fork();
	if (i < 0)
		tc_bad("fork: %s", strerror(errno));
	if (i == 0) {
		pid_t self = getpid();

		close(info[0]);
		g = fork();
		if (g < 0)
			tc_bad("fork: %s", strerror(errno));
		if (g == 0) {
			close(info[1]);
			close(req[1]);
			close(ans[0]);
			orphan(req[0], ans[1], self, me, subreaper);
		}
		tc_write_full(info[1], &g, sizeof(g), "intermediate");
		_exit(ISTATUS);
	}
	close(info[1]);
	close(req[0]);
	close(ans[1]);
	if (tc_read_full(info[0], &g, sizeof(g), TC_IO_TIMEOUT_MS, "main") == 0)
		tc_bad("main: no pid from the intermediate process");
	close(info[0]);
	tc_wait_child(i, ISTATUS, TC_IO_TIMEOUT_MS, "main");

	/* the zombie is there before READY */
	{
		uint64_t deadline = tc_now_ns() + 20ull * 1000000000;
		siginfo_t si;

		do {
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)z, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
				tc_bad("waitid: %s", strerror(errno));
			if (tc_now_ns() > deadline)
				tc_bad("child %d did not exit", (int)z);
			if (si.si_pid != z)
				tc_sleep_ms(1, 0);
		} while (si.si_pid != z);
	}
	tc_ready();
	for (long n = 1; n <= o.target; n++) {
		uint64_t round = (uint64_t)n;
		struct answer a;
		int status;
		int is_sr = -1;

		if (n < half) {
			check_zombie(z);
		} else if (n == half) {
			check_zombie(z);
			pid_t r = waitpid(z, &status, WNOHANG);

			if (r != z)
				tc_bad("waitpid(zombie %d) returned %d (%s)", (int)z, (int)r,
				       r < 0 ? strerror(errno) : "not reaped");
			if (!WIFEXITED(status) || WEXITSTATUS(status) != ZSTATUS)
				tc_bad("zombie %d reaped with status %#x, expected exit %d", (int)z,
				       status, ZSTATUS);
		} else if (waitpid(z, &status, WNOHANG) != -1 || errno != ECHILD) {
			tc_bad("the reaped zombie %d can be waited for again", (int)z);
		}
		{
			siginfo_t si;

			memset(&si, 0, sizeof(si));
			if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno != ECHILD)
				tc_bad("waitid(P_ALL): %s", strerror(errno));
			if (si.si_pid != 0 && (si.si_pid != z || n > half))
				tc_bad("an unexpected child %d can be waited for", (int)si.si_pid);
		}

		tc_write_full(req[1], &round, sizeof(round), "main");
		if (tc_read_full(ans[0], &a, sizeof(a), TC_IO_TIMEOUT_MS, "main") == 0)
			tc_bad("main: the orphan is gone in round %ld", n);
		if (a.round != round || a.mix != tc_mix(round ^ 0x5a5a) || a.pid != g)
			tc_bad("main: orphan answered round %llu from pid %lld, expected %ld from %d",
			       (unsigned long long)a.round, (long long)a.pid, n, (int)g);
		if (prctl(PR_GET_CHILD_SUBREAPER, &is_sr, 0, 0, 0) < 0)
			tc_bad("PR_GET_CHILD_SUBREAPER: %s", strerror(errno));
		if (is_sr != subreaper)
			tc_bad("child subreaper is %d, expected %d", is_sr, subreaper);
		tc_proc_check();
		tc_tick(n);
		tc_sleep_ms(o.interval_ms, 0);
	}
	close(req[1]);
	{
		struct answer a;

		if (tc_read_full(ans[0], &a, sizeof(a), TC_IO_TIMEOUT_MS, "main") != 0)
			tc_bad("main: the orphan answered after the end");
	}
	if (subreaper) {
		tc_wait_child(g, 0, TC_IO_TIMEOUT_MS, "main (subreaper)");
	} else {
		int status;

		if (waitpid(g, &status, WNOHANG) != -1 || errno != ECHILD)
			tc_bad("the orphan %d is a child of main without a subreaper", (int)g);
	}
	tc_pass();
}
