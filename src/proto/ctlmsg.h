/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Attributes of the control-socket messages (TLV, see tlv.h). */
#pragma once

enum ctl_cmd {
	CTL_CMD_INFO = 1,	/* who are you: pids, command line, image dir */
	CTL_CMD_DUMP = 2,
	CTL_CMD_DETACH = 3,	/* let the computation go, untraced; the supervisor exits */
};

enum ctl_dump_mode {
	CTL_DUMP_LEAVE_RUNNING = 0,
	CTL_DUMP_KILL = 1,
	/* check PID: freeze and collect, write nothing: what a dump would
	 * refuse, or the size it would write */
	CTL_DUMP_CHECK = 2,
};

#define CTL_DUMP_F_INCREMENTAL (1u << 0)	/* only pages written since the previous image */
#define CTL_DUMP_F_COMPRESS (1u << 1)		/* the pages compressed (zstd) */

enum ctl_attr {
	CTL_A_UNSPEC,
	CTL_A_CMD,		/* u32 enum ctl_cmd */
	CTL_A_DIR,		/* str */
	CTL_A_MODE,		/* u32 enum ctl_dump_mode */
	CTL_A_ERR,		/* u32: positive errno, 0 on success */
	CTL_A_MSG,		/* str: what failed, or a summary */
	CTL_A_PID,		/* u32, repeated: every traced process (supervisor's pid ns) */
	CTL_A_CMDLINE,		/* str */
	CTL_A_GENERATION,	/* u64 */
	CTL_A_FROZEN_NS,	/* u64 */
	CTL_A_TOTAL_NS,		/* u64 */
	CTL_A_BYTES,		/* u64: image size */
	CTL_A_SUPERVISOR,	/* u32: the supervisor's pid */
	CTL_A_FLAGS,		/* u32 CTL_DUMP_F_* */
	CTL_A_MAX = CTL_A_FLAGS,
};

#define CTL_MSG_MAX (1u << 20)
