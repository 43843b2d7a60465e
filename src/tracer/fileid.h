/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "proto/model.h"

/*
 * Record size, mtime and build-id of every executable, mapped file and file
 * open by path in c, while its processes are frozen (real_pid valid).  A
 * file that cannot be read is left without (warned); -ENOMEM only.
 */
int collect_file_ids(struct computation *c);
