/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parsers of /proc text: pure functions on buffers, unit tested. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct maps_entry {
	uint64_t start, end, pgoff;
	uint32_t prot;		/* PROT_* */
	bool shared;
	uint32_t dev_major, dev_minor;
	uint64_t ino;
	const char *path;	/* points into the parsed line; "" when none */
	size_t path_len;
};

/* One line of /proc/PID/maps (no trailing newline needed). */
int parse_maps_line(const char *line, struct maps_entry *e);

/*
 * The value of a "VmFlags:" line of /proc/PID/smaps ("rd wr mr mw me ac hg")
 * as the VMA_F_* bits of what madvise set (VMA_F_MADVISED), hugetlb (ht) and
 * MAP_NORESERVE (nr); others ignored.
 */
uint32_t parse_vmflags(const char *value);

struct proc_stat {
	pid_t pid, ppid, pgrp, session;
	char state;
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int exit_code;		/* wait status, for a zombie */
	uint32_t tty_nr;	/* controlling terminal, as a device number */
	uint64_t start_time;	/* clock ticks after boot: with the pid, which process */
};

/* /proc/PID/stat: the comm may hold spaces and parentheses. */
int parse_stat(const char *buf, struct proc_stat *st);

/* "Key:\tvalue" of /proc/PID/status, value parsed in the given base. */
int parse_status_u64(const char *buf, const char *key, int base, uint64_t *v);
/* Last number of a "NSpid:" like line: the pid in the innermost namespace. */
int parse_status_last_u64(const char *buf, const char *key, uint64_t *v);
/* The "Name:" of /proc/PID/status, unescaped, NUL-padded to 16 bytes. */
int parse_status_name(const char *buf, char out[16]);

struct timerfd_info {
	uint32_t clockid, settime_flags;
	uint64_t ticks, value_ns, interval_ns;
};

/* The timerfd lines of fdinfo: clockid, ticks, settime flags, it_value, it_interval. */
int parse_timerfd_fdinfo(const char *buf, struct timerfd_info *ti);

struct epoll_watch;
/* Every "tfd:" line of an epoll fd's fdinfo, into a malloc'd array. */
int parse_epoll_fdinfo(const char *buf, struct epoll_watch **out, size_t *nr);

struct file_lock_record;
/* The "lock:" lines of an fdinfo, into a malloc'd array (NULL, 0 when none). */
int parse_fdinfo_locks(const char *buf, struct file_lock_record **out, size_t *nr);

/* /proc/PID/fdinfo/N: pos and flags (octal). */
int parse_fdinfo(const char *buf, uint64_t *pos, uint32_t *flags);

/* One "inotify wd:" line of an inotify fd's fdinfo. */
struct inotify_watch_line {
	uint32_t wd, mask;
	uint64_t ino;
	uint64_t sdev;			/* as the kernel keeps it: see kernel_dev_to_dev */
	uint32_t handle_bytes;		/* 0 when the line shows no file handle */
	int32_t handle_type;
	char handle_hex[257];		/* handle_bytes * 2 hex digits */
};

/* -EINVAL when line is no well-formed watch line; the file handle is optional. */
int parse_inotify_watch_line(const char *line, struct inotify_watch_line *w);

/*
 * fdinfo prints devices in the kernel's own encoding (major << 20 | minor),
 * stat and readdir in the C library's: the same device as st_dev would say.
 */
dev_t kernel_dev_to_dev(uint64_t kdev);

/*
 * Whether an inotify mask from fdinfo, given back to inotify_add_watch,
 * makes the same watch: only events and the flags the kernel keeps with it
 * (IN_EXCL_UNLINK, IN_ONESHOT), and at least one event.
 */
bool inotify_mask_restorable(uint32_t mask);
