/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

#include "proto/model.h"

/* Number open file descriptions across processes; save pipe buffers. */
int collect_shared(struct computation *c, char *err, size_t errlen);
