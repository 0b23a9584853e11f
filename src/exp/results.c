/* TSV and JSON output with provenance (see results.h). */
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/results.h"
#include "core/atomicfile.h"
#include "core/error.h"
#include "linalg/blas.h"
#include "par/par.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_version.h>

char *
infb_path_join(const char *dir, const char *name)
{
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = infb_malloc(n, 1);
  if (p)
    snprintf(p, n, "%s/%s", dir, name);
  return p;
}

int
infb_tsv_write(const char *dir, const char *name, const char *comment, size_t ncols,
               const char *const *cols, size_t nrows, const char *const *labels,
               const double *data)
{
  char *path = infb_path_join(dir, name);
  if (!path)
    return GSL_ENOMEM;
  infb_afile *af = infb_afile_open(path);
  free(path);
  if (!af)
    return GSL_EFAILED;
  if (comment)
    fprintf(af->fp, "# %s\n", comment);
  fputs("# ", af->fp);
  size_t nnames = ncols + (labels ? 1 : 0);
  for (size_t j = 0; j < nnames; j++)
    fprintf(af->fp, "%s%s", j ? "\t" : "", cols[j]);
  fputc('\n', af->fp);
  for (size_t i = 0; i < nrows; i++) {
    if (labels)
      fputs(labels[i], af->fp);
    for (size_t j = 0; j < ncols; j++) {
      const char *sep = j || labels ? "\t" : "";
      double v = data[i * ncols + j];
      if (isfinite(v))
        fprintf(af->fp, "%s%.17g", sep, v);
      else
        fprintf(af->fp, "%sNaN", sep);
    }
    fputc('\n', af->fp);
  }
  return infb_afile_commit(af);
}

json_t *
infb_json_number(double v)
{
  return isfinite(v) ? json_real(v) : json_null();
}

json_t *
infb_json_array(const double *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, infb_json_number(v[i]));
  return a;
}

json_t *
infb_results_program(long threads)
{
  size_t nc, kc;
  infb_blas_blocking(&nc, &kc);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:[I, I], s:I, s:s, s:i}", "name",
                   PACKAGE_NAME, "version", PACKAGE_VERSION, "gsl", gsl_version, "blas",
                   infb_blas_config(), "blas_kernels", infb_blas_corename(), "blas_threads",
                   infb_blas_threads(), "gemm_blocks", (json_int_t)nc, (json_int_t)kc,
                   "threads", (json_int_t)threads, "mpi", infb_par_describe(), "ranks",
                   infb_par_size());
}

const char *
infb_results_program_line(void)
{
  static char buf[512];
  snprintf(buf, sizeof buf, "%s %s; GSL %s; BLAS: %s", PACKAGE_NAME, PACKAGE_VERSION, gsl_version,
           infb_blas_config());
  return buf;
}

int
infb_json_write(const char *path, const json_t *root)
{
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
  if (!text)
    return INFB_ERROR(GSL_ENOMEM, "cannot serialise %s", path);
  size_t n = strlen(text);
  text[n] = '\0';
  infb_afile *af = infb_afile_open(path);
  if (!af) {
    free(text);
    return GSL_EFAILED;
  }
  fputs(text, af->fp);
  fputc('\n', af->fp);
  free(text);
  return infb_afile_commit(af);
}
