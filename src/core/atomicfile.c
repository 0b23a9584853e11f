/* Temporary-name-and-rename writing (POSIX rename is atomic within a file system). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "core/atomicfile.h"
#include "core/error.h"
#include "core/fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What to do about a failed write: a full file system or a size limit needs space. */
const char *
infb_afile_hint(int e)
{
  if (e == ENOSPC || e == EFBIG
#ifdef EDQUOT
      || e == EDQUOT
#endif
  )
    return " (free some space, or write the outputs to another directory)";
  return "";
}

infb_afile *
infb_afile_open(const char *path)
{
  infb_afile *af = infb_calloc(1, sizeof *af);
  if (!af)
    return NULL;
  size_t n = strlen(path) + 32;
  af->path = infb_strdup(path);
  af->tmp = infb_malloc(n, 1);
  if (!af->path || !af->tmp) {
    infb_afile_abort(af);
    return NULL;
  }
  snprintf(af->tmp, n, "%s.tmp.%ld", path, (long)getpid());
  af->fp = fopen(af->tmp, "w");
  if (!af->fp) {
    int e = errno;
    free(af->path);
    free(af->tmp);
    free(af);
    INFB_ERROR_NULL(GSL_EFAILED, "cannot write %s: %s%s", path, strerror(e), infb_afile_hint(e));
  }
  return af;
}

int
infb_afile_commit(infb_afile *af)
{
  infb_fault_point_stream("file-write", af->fp);
  int bad = ferror(af->fp);
  int e = errno ? errno : EIO; /* a stream error leaves errno as its write(2) set it */
  if (fflush(af->fp) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  if (fclose(af->fp) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  af->fp = NULL;
  if (!bad && rename(af->tmp, af->path) != 0) {
    bad = 1;
    e = errno;
  }
  if (bad) {
    remove(af->tmp);
    int st = INFB_ERROR(GSL_EFAILED, "cannot write %s: %s%s", af->path, strerror(e),
                        infb_afile_hint(e));
    free(af->path);
    free(af->tmp);
    free(af);
    return st;
  }
  free(af->path);
  free(af->tmp);
  free(af);
  return GSL_SUCCESS;
}

void
infb_afile_abort(infb_afile *af)
{
  if (!af)
    return;
  if (af->fp) {
    fclose(af->fp);
    remove(af->tmp);
  }
  free(af->path);
  free(af->tmp);
  free(af);
}

int
infb_write_file_atomic(const char *path, const void *data, size_t len)
{
  infb_afile *af = infb_afile_open(path);
  if (!af)
    return GSL_EFAILED;
  if (len && fwrite(data, 1, len, af->fp) != len) {
    int e = errno;
    infb_afile_abort(af);
    return INFB_ERROR(GSL_EFAILED, "cannot write %s: %s%s", path, strerror(e), infb_afile_hint(e));
  }
  return infb_afile_commit(af);
}
