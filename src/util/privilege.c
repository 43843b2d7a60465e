/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/macro.h"
#include "util/privilege.h"

bool privilege_in_init_userns(void)
{
	_cleanup_free_ char *map = NULL;
	unsigned long inner, outer, count;

	if (read_file_at(AT_FDCWD, "/proc/self/uid_map", &map, NULL) < 0)
		return false;
	/* The initial namespace is the one that maps all of 0..2^32-2 onto itself. */
	return sscanf(map, "%lu %lu %lu", &inner, &outer, &count) == 3 && inner == 0 &&
	       outer == 0 && count == 4294967295ul;
}

bool privilege_has_cap(int cap, bool effective)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (caps) {
		cap_get_flag(caps, (cap_value_t)cap, effective ? CAP_EFFECTIVE : CAP_PERMITTED, &v);
		cap_free(caps);
	}
	return v == CAP_SET;
}

enum privilege_mode privilege_mode(void)
{
	if (!privilege_in_init_userns())
		return PRIV_ROOTLESS;
	if (geteuid() == 0 && privilege_has_cap(CAP_SYS_ADMIN, true) &&
	    privilege_has_cap(CAP_SYS_PTRACE, true))
		return PRIV_ROOT;
	if (geteuid() != 0 && privilege_has_cap(CAP_SYS_ADMIN, false) &&
	    privilege_has_cap(CAP_CHECKPOINT_RESTORE, false))
		return PRIV_FILECAPS;
	return PRIV_ROOTLESS;
}

const char *privilege_mode_name(enum privilege_mode m)
{
	switch (m) {
	case PRIV_ROOT:
		return "root";
	case PRIV_FILECAPS:
		return "file capabilities (an ordinary user; " PRIV_FILECAPS_SET ")";
	default:
		return "rootless (a user namespace of your own)";
	}
}

void priv_lower_all(void)
{
	cap_t caps;

	if (geteuid() == 0 || !privilege_in_init_userns())
		return;
	caps = cap_get_proc();
	if (!caps)
		return;
	cap_clear_flag(caps, CAP_EFFECTIVE);
	cap_set_proc(caps);
	cap_free(caps);
}

int priv_raise(int cap)
{
	cap_value_t c = cap;
	cap_flag_value_t eff = CAP_CLEAR, prm = CAP_CLEAR;
	cap_t caps = cap_get_proc();
	int token = 0;

	if (!caps)
		return 0;
	cap_get_flag(caps, c, CAP_EFFECTIVE, &eff);
	cap_get_flag(caps, c, CAP_PERMITTED, &prm);
	if (eff == CAP_CLEAR && prm == CAP_SET &&
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, &c, CAP_SET) == 0 && cap_set_proc(caps) == 0)
		token = cap + 1;
	cap_free(caps);
	return token;
}

void priv_lower(const int *token)
{
	cap_value_t c;
	cap_t caps;

	if (!*token)
		return;
	c = *token - 1;
	caps = cap_get_proc();
	if (caps && cap_set_flag(caps, CAP_EFFECTIVE, 1, &c, CAP_CLEAR) == 0)
		cap_set_proc(caps);
	if (caps)
		cap_free(caps);
}

int priv_ambient_raise(int cap)
{
	cap_value_t c = cap;
	cap_t caps;
	int r = 0;

	if (!privilege_has_cap(cap, false))
		return -EPERM;
	caps = cap_get_proc();
	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_INHERITABLE, 1, &c, CAP_SET) < 0 || cap_set_proc(caps) < 0)
		r = -errno;
	cap_free(caps);
	if (r == 0 && cap_set_ambient(c, CAP_SET) < 0)
		r = -errno;
	return r;
}

void priv_ambient_clear(void)
{
	cap_t caps;

	cap_reset_ambient();
	caps = cap_get_proc();
	if (!caps)
		return;
	cap_clear_flag(caps, CAP_INHERITABLE);
	cap_set_proc(caps);
	cap_free(caps);
}

static int write_proc_self(const char *name, const char *text)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	if (write(fd, text, len) != (ssize_t)len)
		return neg_errno();
	return 0;
}

/* Why unshare(CLONE_NEWUSER) failed, in words a user can act on. */
static void userns_off_reason(int e, char *err, size_t errlen)
{
	_cleanup_free_ char *clone = NULL, *max = NULL;

	if (read_file_at(AT_FDCWD, "/proc/sys/kernel/unprivileged_userns_clone", &clone, NULL) == 0 &&
	    atoi(clone) == 0) {
		snprintf(err, errlen,
			 "user namespaces are switched off for ordinary users here "
			 "(sysctl kernel.unprivileged_userns_clone=0): ask the admin to set it to 1, "
			 "or to install trace-ckpt with file capabilities (README, \"Without root\")");
		return;
	}
	if (read_file_at(AT_FDCWD, "/proc/sys/user/max_user_namespaces", &max, NULL) == 0 &&
	    atoi(max) == 0) {
		snprintf(err, errlen,
			 "user namespaces are switched off here (sysctl user.max_user_namespaces=0): "
			 "ask the admin to raise it, or to install trace-ckpt with file capabilities "
			 "(README, \"Without root\")");
		return;
	}
	snprintf(err, errlen, "cannot make a user namespace: unshare(CLONE_NEWUSER): %s%s",
		 strerror(e),
		 e == EPERM ? " (an AppArmor or seccomp policy may forbid it; see README, "
			      "\"Without root\")"
			    : "");
}

/*
 * In our own user namespace we hold every capability over the user's own
 * files: without these, a file or directory the user made read-only stays
 * so for the supervisor too.  Permitted still, for nothing needs them now.
 */
static int lower_file_caps(void)
{
	static const cap_value_t fs[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
					  CAP_FSETID, CAP_CHOWN, CAP_LINUX_IMMUTABLE };
	cap_t caps = cap_get_proc();
	int r = 0;

	if (!caps)
		return neg_errno();
	if (cap_set_flag(caps, CAP_EFFECTIVE, ARRAY_SIZE(fs), fs, CAP_CLEAR) < 0 ||
	    cap_set_proc(caps) < 0)
		r = neg_errno();
	cap_free(caps);
	return r;
}

int userns_enter_own(char *err, size_t errlen)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int r;

	if (unshare(CLONE_NEWUSER) < 0) {
		r = neg_errno();
		userns_off_reason(-r, err, errlen);
		return r;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	r = write_proc_self("uid_map", map);
	if (r == 0)
		r = write_proc_self("setgroups", "deny");
	if (r == 0) {
		snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
		r = write_proc_self("gid_map", map);
	}
	if (r < 0) {
		snprintf(err, errlen, "user namespace: writing its uid/gid maps: %s", strerror(-r));
		return r;
	}
	return lower_file_caps();
}

int userns_available(char *err, size_t errlen)
{
	int status, e;
	pid_t pid = fork();

	if (pid < 0) {
		snprintf(err, errlen, "fork: %m");
		return 0;
	}
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) < 0 ? errno & 0x7f : 0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		snprintf(err, errlen, "cannot tell whether user namespaces work");
		return 0;
	}
	e = WEXITSTATUS(status);
	if (e == 0)
		return 1;
	userns_off_reason(e, err, errlen);
	return 0;
}

/* A directory of ours that nobody else can write or read. */
static int check_private_dir(const char *path, bool fix_mode, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %m", path);
		return neg_errno();
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory (a link?); remove it", path);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, not by you (uid %u); remove it or set "
			 "XDG_RUNTIME_DIR", path, st.st_uid, geteuid());
		return -EPERM;
	}
	if ((st.st_mode & 07777) != 0700) {
		if (fix_mode && chmod(path, 0700) == 0)
			return 0;
		snprintf(err, errlen, "%s: mode %04o, must be 0700", path, st.st_mode & 07777);
		return -EPERM;
	}
	return 0;
}

static bool xdg_runtime_is_ours(const char *rt)
{
	struct stat st;

	return rt && rt[0] == '/' && lstat(rt, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_uid == geteuid() && !(st.st_mode & 077);
}

int runtime_dir(char *buf, size_t len, bool create, char *err, size_t errlen)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	bool root = geteuid() == 0;
	int n, r;

	err[0] = '\0';
	/*
	 * Only a runtime dir of our own: root under sudo keeps the user's,
	 * where a directory of root's would lock the user out.
	 */
	if (rt && *rt && xdg_runtime_is_ours(rt))
		n = snprintf(buf, len, "%s/trace-ckpt", rt);
	else if (root)
		n = snprintf(buf, len, "/run/trace-ckpt");
	else
		n = snprintf(buf, len, "/tmp/trace-ckpt-%u", geteuid());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (!create)
		return 0;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
		r = neg_errno();
		if (r == -ENOENT && root)
			r = mkdir_p(buf, 0700);
		if (r < 0) {
			snprintf(err, errlen, "runtime directory %s: %s", buf, strerror(-r));
			return r;
		}
	}
	/* Ours to fix if only the umask was wrong; anyone else's is refused. */
	return check_private_dir(buf, true, err, errlen);
}
