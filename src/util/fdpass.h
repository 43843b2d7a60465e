/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Passing an fd over a unix socket (SCM_RIGHTS), with a message of fixed size. */
#pragma once

#include <stddef.h>

/* data (len bytes) as one message, carrying fd unless it is negative.  0 or -errno. */
int fdpass_send(int sock, const void *data, size_t len, int fd);

/*
 * One message of exactly len bytes into data, and the fd it carried in *fd
 * (-1: none; close-on-exec).  1: one came; 0: end of file; -EBADMSG: another
 * size or more than one fd; -errno.
 */
int fdpass_recv(int sock, void *data, size_t len, int *fd);
