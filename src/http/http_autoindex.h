/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Renders the listing of the directory open at dir_fd (O_PATH is enough),
 * whose normalized request path (with its trailing '/') is path, as an
 * HTML page: names HTML-escaped, links percent-encoded, directories first
 * marked with '/', sorted by name, with size and modification time.
 * Entries whose name starts with '.' are left out unless show_dotfiles.
 * Returns 0 and a malloc()ed body, or a negative errno (-EACCES for a
 * directory that may not be read). */
int http_autoindex_render(int dir_fd, const char *path, bool show_dotfiles, char **ret_body, size_t *ret_len);
