/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builder of anon-inode fds (tracer/anonfd.c collects them): eventfd with
 * its counter, signalfd with its mask, timerfd with its time left,
 * inotify with its watches under their numbers, epoll with its interest
 * list (rebuilt in the process, once its fds are at their numbers).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/epoll.h>

#include "proto/model.h"

/* Each returns a new fd (FD_CLOEXEC, O_NONBLOCK as saved) for f. */
int eventfd_open(const struct fd_record *f);
int signalfd_open(const struct fd_record *f);
int timerfd_open(const struct fd_record *f);
int inotify_open(const struct fd_record *f);
/* An empty epoll instance: epoll_restore_watches fills it. */
int epoll_open(const struct fd_record *f);

/* In process p, its fds at their numbers: every epoll fd's interest list again. */
int epoll_restore_watches(const struct process_record *p, char *err, size_t errlen);

/* Adds a watch of tfd to epfd: 0 or -errno (-EEXIST is not an error). */
typedef int (*epoll_watch_fn)(void *arg, int epfd, int tfd, struct epoll_event *ev);

/*
 * add() for each watch of p's epoll fds whose target is a deferred fd
 * (procfd.h) or, !of_deferred, is not; err names the first that failed.
 */
int epoll_for_each_watch(const struct process_record *p, bool of_deferred, epoll_watch_fn add,
			 void *arg, char *err, size_t errlen);
