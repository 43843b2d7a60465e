// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fd record's parts of anon-inode fds: eventfd, signalfd, timerfd, epoll,
 * inotify (tracer/anonfd.c, restorer/anonfd.c).
 */
#include "proto/attrs.h"
#include "proto/field.h"
#include "proto/record.h"
#include "util/macro.h"

/* FD_EVENTFD. */
static const struct field fd_eventfd_fields[] = {
	F_U64(FD_A_EVENTFD_COUNT, struct fd_record, eventfd.count),
	F_U32(FD_A_EVENTFD_SEMAPHORE, struct fd_record, eventfd.semaphore),
};

const struct field_table fd_eventfd_part = { fd_eventfd_fields, ARRAY_SIZE(fd_eventfd_fields) };

/* FD_SIGNALFD. */
static const struct field fd_signalfd_fields[] = {
	F_U64(FD_A_SIGNALFD_MASK, struct fd_record, signalfd.mask),
};

const struct field_table fd_signalfd_part = { fd_signalfd_fields, ARRAY_SIZE(fd_signalfd_fields) };

/* FD_TIMERFD. */
static const struct field fd_timerfd_fields[] = {
	F_U32(FD_A_TIMERFD_CLOCK, struct fd_record, timerfd.clock),
	F_U32(FD_A_TIMERFD_FLAGS, struct fd_record, timerfd.flags),
	F_U64(FD_A_TIMERFD_TICKS, struct fd_record, timerfd.ticks),
	F_U64(FD_A_TIMERFD_VALUE, struct fd_record, timerfd.value_ns),
	F_U64(FD_A_TIMERFD_INTERVAL, struct fd_record, timerfd.interval_ns),
};

const struct field_table fd_timerfd_part = { fd_timerfd_fields, ARRAY_SIZE(fd_timerfd_fields) };

/* FD_EPOLL. */
static const struct field fd_epoll_fields[] = {
	F_BLOB(FD_A_EPOLL_WATCHES, struct fd_record, epoll.watches, epoll.watches_len),
};

const struct field_table fd_epoll_part = { fd_epoll_fields, ARRAY_SIZE(fd_epoll_fields) };

/* FD_INOTIFY. */
static const struct field fd_inotify_fields[] = {
	F_BLOB(FD_A_INOTIFY_WATCHES, struct fd_record, inotify.watches, inotify.watches_len),
};

const struct field_table fd_inotify_part = { fd_inotify_fields, ARRAY_SIZE(fd_inotify_fields) };
