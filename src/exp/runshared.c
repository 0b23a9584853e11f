/* Pieces shared by the supervised and latent runners (see runshared.h). */
#define _POSIX_C_SOURCE 200809L
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/runshared.h"
#include "core/atomicfile.h"
#include "core/error.h"
#include "exp/results.h"
#include "linalg/blas.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

json_t *
infb_run_root(const infb_config *cfg)
{
  char hex[INFB_SHA256_HEX];
  if (infb_config_hash(cfg, hex))
    return NULL;
  json_t *root = json_object();
  if (!root)
    return NULL;
  json_object_set_new(root, "schema_version", json_integer(INFB_RESULTS_SCHEMA));
  json_object_set_new(root, "program", infb_results_program());
  json_object_set_new(root, "config",
                      json_pack("{s:s, s:I, s:s, s:s}", "hash", hex, "seed",
                                (json_int_t)infb_config_int(cfg, "experiment", "seed"), "name",
                                infb_config_get(cfg, "experiment", "name"), "file",
                                infb_config_file(cfg)));
  json_object_set_new(root, "data",
                      json_pack("{s:s}", "source", infb_config_get(cfg, "data", "source")));
  json_object_set_new(root, "model",
                      json_pack("{s:s}", "type", infb_config_get(cfg, "model", "type")));
  json_object_set_new(root, "estimators", json_object());
  return root;
}

/* Create the missing parent directories of path (as mkdir -p on its dirname). */
static int
make_parents(const char *path)
{
  char *p = infb_strdup(path);
  if (!p)
    return GSL_ENOMEM;
  for (char *s = p + 1; *s; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
      int st = INFB_ERROR(GSL_EFAILED, "cannot create %s: %s", p, strerror(errno));
      free(p);
      return st;
    }
    *s = '/';
  }
  free(p);
  return GSL_SUCCESS;
}

int
infb_run_make_dir(const infb_config *cfg, const infb_run_options *opt, char **dirp)
{
  char *dir;
  *dirp = NULL;
  if (opt->outdir) {
    dir = infb_strdup(opt->outdir);
  } else {
    if (mkdir("runs", 0777) != 0 && errno != EEXIST)
      return INFB_ERROR(GSL_EFAILED, "cannot create runs: %s", strerror(errno));
    dir = infb_path_join("runs", infb_config_get(cfg, "experiment", "name"));
  }
  if (!dir)
    return GSL_ENOMEM;
  int pst = make_parents(dir);
  if (pst) {
    free(dir);
    return pst;
  }
  if (mkdir(dir, 0777) != 0) {
    int st = GSL_SUCCESS;
    struct stat sb;
    if (errno != EEXIST)
      st = INFB_ERROR(GSL_EFAILED, "cannot create %s: %s", dir, strerror(errno));
    else if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
      st = INFB_ERROR(GSL_EFAILED, "%s exists and is not a directory", dir);
    else if (!opt->force)
      st = INFB_ERROR(INFB_ECONFIG, "%s exists; use --force to reuse it or -o DIR", dir);
    if (st) {
      free(dir);
      return st;
    }
  }
  *dirp = dir;
  return GSL_SUCCESS;
}

int
infb_run_write_config(const infb_config *cfg, const char *dir)
{
  char hex[INFB_SHA256_HEX];
  char *canon = infb_config_canonical(cfg);
  if (!canon || infb_config_hash(cfg, hex)) {
    free(canon);
    return GSL_ENOMEM;
  }
  char *path = infb_path_join(dir, "config.ini");
  infb_afile *af = path ? infb_afile_open(path) : NULL;
  free(path);
  if (!af) {
    free(canon);
    return GSL_EFAILED;
  }
  fprintf(af->fp,
          "# infbench resolved configuration (every default filled in, canonical form)\n"
          "# sha256: %s\n# program: %s\n# threads: %d\n# seed: %ld\n# source: %s\n\n%s",
          hex, infb_results_program_line(), infb_blas_threads(),
          infb_config_int(cfg, "experiment", "seed"), infb_config_file(cfg), canon);
  free(canon);
  return infb_afile_commit(af);
}

void
infb_run_progress(const infb_run_options *opt, const char *fmt, ...)
{
  if (!opt->progress)
    return;
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  opt->progress(opt->progress_ctx, buf, 0, 0);
}

void
infb_run_progress_count(const infb_run_options *opt, size_t done, size_t total,
                        const char *fmt, ...)
{
  if (!opt->progress)
    return;
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  opt->progress(opt->progress_ctx, buf, done, total);
}

int
infb_run_interrupted(const infb_run_options *opt)
{
  return opt->interrupted && *opt->interrupted;
}

void
infb_run_stem(const char *name, char *out, size_t cap)
{
  size_t i = 0;
  for (; name[i] && i + 1 < cap; i++) {
    char ch = name[i];
    out[i] = (ch == ':' || ch == '/' || ch == ' ') ? '-' : ch;
  }
  out[i] = '\0';
}

int
infb_run_status(int st, int interrupted, size_t nfailed)
{
  if (st)
    return st;
  if (interrupted)
    return INFB_ERROR(INFB_EINTR, "interrupted");
  if (nfailed)
    return GSL_EFAILED;
  return GSL_SUCCESS;
}
