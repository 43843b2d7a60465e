/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TLV encoding of the model's records (attribute numbers in attrs.h).
 *
 * Encoders append to a tlv_buf and return 0 or -errno (b->err sticks).
 * Decoders take the attribute (a nest) or buffer, fill a zeroed record,
 * skip unknown attribute types, and return -EBADMSG on a malformed or
 * out-of-range attribute.  On error whatever was allocated is still owned
 * by the record: free it with the record's free function.
 */
#pragma once

#include "proto/model.h"
#include "proto/tlv.h"

/*
 * The whole process record: everything but runs (the core file's PT_LOADs)
 * and the reader's/collector's fields (core_path, real_pid, content_fd).
 * process_record_decode frees p and zeroes it on error.
 */
int process_record_encode(struct tlv_buf *b, const struct process_record *p);
int process_record_decode(const void *buf, size_t len, struct process_record *p);

int vma_record_encode(struct tlv_buf *b, uint32_t type, const struct vma_record *v);
int vma_record_decode(const struct tlv_attr *nest, struct vma_record *v);
void vma_record_free(struct vma_record *v);

int thread_record_encode(struct tlv_buf *b, uint32_t type, const struct thread_record *t);
int thread_record_decode(const struct tlv_attr *nest, struct thread_record *t);
void thread_record_free(struct thread_record *t);

int fd_record_encode(struct tlv_buf *b, uint32_t type, const struct fd_record *f);
int fd_record_decode(const struct tlv_attr *nest, struct fd_record *f);
void fd_record_free(struct fd_record *f);

/* The nest is always written; its presence is what makes creds.valid. */
int creds_record_encode(struct tlv_buf *b, uint32_t type, const struct creds_record *c);
int creds_record_decode(const struct tlv_attr *nest, struct creds_record *c);
void creds_record_free(struct creds_record *c);

int mm_record_encode(struct tlv_buf *b, uint32_t type, const struct mm_record *m);
int mm_record_decode(const struct tlv_attr *nest, struct mm_record *m);
void mm_record_free(struct mm_record *m);

/* signo 1..TC_NSIG */
int sigaction_record_encode(struct tlv_buf *b, uint32_t type, int signo,
			    const struct sigaction_record *s);
int sigaction_record_decode(const struct tlv_attr *nest, int *signo, struct sigaction_record *s);

/* resource < TC_NR_RLIMITS */
int rlimit_record_encode(struct tlv_buf *b, uint32_t type, unsigned int resource,
			 const struct rlimit_record *rl);
int rlimit_record_decode(const struct tlv_attr *nest, unsigned int *resource,
			 struct rlimit_record *rl);

/* which: ITIMER_REAL, ITIMER_VIRTUAL or ITIMER_PROF */
int itimer_record_encode(struct tlv_buf *b, uint32_t type, unsigned int which,
			 const struct itimer_record *it);
int itimer_record_decode(const struct tlv_attr *nest, unsigned int *which,
			 struct itimer_record *it);
