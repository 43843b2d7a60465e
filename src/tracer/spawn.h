/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

struct session;

/* Start argv[0] (PATH searched) traced from its first instruction. */
int session_spawn(struct session *s, char *const argv[]);
