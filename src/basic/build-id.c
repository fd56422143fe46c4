/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "build-id.h"
#include "macros.h"

typedef struct BuildIdSearch {
        char *buf;
        size_t size;
        int r;                        /* 1 found, 0 not, or -ENOBUFS */
} BuildIdSearch;

/* Looks through the PT_NOTE segments of the first object, the executable
 * itself (dl_iterate_phdr() reports it first). */
static int build_id_phdr(struct dl_phdr_info *info, size_t size, void *userdata) {
        BuildIdSearch *s = userdata;

        for (size_t i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                const char *p, *end;

                if (ph->p_type != PT_NOTE)
                        continue;
                p = (const char *) (info->dlpi_addr + ph->p_vaddr);
                end = p + ph->p_memsz;
                while (p + sizeof(ElfW(Nhdr)) <= end) {
                        const ElfW(Nhdr) *n = (const ElfW(Nhdr) *) p;
                        const char *name = p + sizeof(ElfW(Nhdr));
                        const unsigned char *desc = (const unsigned char *) name + ((n->n_namesz + 3) & ~3U);

                        if ((const char *) desc + n->n_descsz > end)
                                break;
                        if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                            n->n_descsz > 0) {
                                if (n->n_descsz * 2 + 1 > s->size) {
                                        s->r = -ENOBUFS;
                                        return 1;
                                }
                                for (size_t k = 0; k < n->n_descsz; k++)
                                        (void) snprintf(s->buf + 2 * k, 3, "%02x", desc[k]);
                                s->r = 1;
                                return 1;
                        }
                        p = (const char *) desc + ((n->n_descsz + 3) & ~3U);
                }
        }
        /* Only the executable counts, not a library's id. */
        return 1;
}

int build_id_self(char *buf, size_t size) {
        BuildIdSearch s = { .buf = buf, .size = size };
        struct stat st;

        assert(buf);
        assert(size > 0);

        (void) dl_iterate_phdr(build_id_phdr, &s);
        if (s.r != 0)
                return s.r < 0 ? s.r : 0;
        if (stat("/proc/self/exe", &st) < 0)
                return negative_errno();
        if (snprintf(buf, size, "ino:%llu:mtime:%lld.%09ld", (unsigned long long) st.st_ino,
                     (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec) >= (int) size)
                return -ENOBUFS;
        return 0;
}
