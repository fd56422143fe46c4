/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* The private memory of process pid in bytes: Private_Clean plus
 * Private_Dirty of /proc/PID/smaps_rollup, that is every resident page
 * that only this process maps. Pages shared with other processes (those a
 * worker still shares with its master after fork, shared mappings, the
 * page cache of files others map too) are not counted: they would not be
 * freed by ending it. Swapped-out pages are not counted either. Returns 0,
 * or a negative errno (-ENOENT: no such process; -EACCES: not ours to
 * read; -EBADMSG: the file lacks the fields). */
int proc_private_memory(pid_t pid, uint64_t *ret);
/* The same for the parsed text of an smaps_rollup file. */
int proc_parse_private_memory(const char *text, uint64_t *ret);
