/* Strict parsing of the scalars that appear in configs and data files.
 *
 * Each parser accepts the whole string (surrounding blanks allowed) or fails: "1e",
 * "12abc", "" and, for doubles, "nan" and "inf" are rejected.  On failure the function
 * returns GSL_EINVAL and writes a short reason ("not a number", "not finite",
 * "out of range") to *why when why is not NULL; nothing is raised through the error
 * handler, because a bad token is the caller's to report with its file and line. */
#ifndef INFB_CORE_STRPARSE_H
#define INFB_CORE_STRPARSE_H

#include <stddef.h>

int infb_parse_double(const char *s, double *out, const char **why);
int infb_parse_long(const char *s, long *out, const char **why);
/* yes|no|true|false|on|off|1|0, case-insensitive. */
int infb_parse_bool(const char *s, int *out, const char **why);

/* Copy s without leading and trailing blanks into dst (capacity cap, always
 * NUL-terminated, truncated if needed).  Returns dst. */
char *infb_trim_copy(char *dst, size_t cap, const char *s);

/* Split a comma list ("a, b ,c") into a NULL-terminated array of trimmed, newly
 * allocated strings; empty items are dropped.  *n receives the count.  The caller frees
 * with infb_strlist_free.  NULL on allocation failure (error raised). */
char **infb_strlist_split(const char *s, size_t *n);
void infb_strlist_free(char **list);

#endif
