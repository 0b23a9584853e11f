/* Write a file under a temporary name and rename it into place, so an interrupted run
 * never leaves a half-written result. */
#ifndef INFB_CORE_ATOMICFILE_H
#define INFB_CORE_ATOMICFILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct infb_afile {
  FILE *fp;    /* write through this stream */
  char *path;  /* final path */
  char *tmp;   /* temporary path: PATH.tmp.PID */
} infb_afile;

/* Open PATH.tmp.PID for writing.  NULL (error raised, naming the path and errno text) on
 * failure. */
infb_afile *infb_afile_open(const char *path);
/* Flush, close and rename onto the final path; frees af.  On any failure (a full disk
 * shows up here) the temporary is removed and an error raised naming the path.
 * Returns GSL_SUCCESS or GSL_EFAILED. */
int infb_afile_commit(infb_afile *af);
/* Close and remove the temporary; frees af.  NULL is a no-op. */
void infb_afile_abort(infb_afile *af);

/* What a message about a failed write with errno e adds: " (free some space, or write the
 * outputs to another directory)" for a full file system, a quota or a size limit, ""
 * otherwise. */
const char *infb_afile_hint(int e);

/* Write len bytes to path atomically (open, write, commit). */
int infb_write_file_atomic(const char *path, const void *data, size_t len);

#endif
