#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# hugetlb_pool.sh PAGES COMMAND...: run COMMAND (a test of hugetlb memory)
# when at least PAGES huge pages of 2 MiB are free, else skip (77).
# scripts/test makes a pool of them as root; an ordinary user cannot.
set -euo pipefail

want=$1
shift
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "$free" -lt "$want" ]; then
	echo "SKIP: $free huge pages of 2 MiB free, $want wanted (/proc/sys/vm/nr_hugepages)"
	exit 77
fi
exec "$@"
