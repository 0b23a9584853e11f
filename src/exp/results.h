/* Run outputs: TSV tables with a '#' header, results.json through jansson, and the
 * program/library provenance every output records.  Every file is written under a
 * temporary name and renamed (core/atomicfile.h). */
#ifndef INFB_EXP_RESULTS_H
#define INFB_EXP_RESULTS_H

#include <stddef.h>
#include <jansson.h>

#define INFB_RESULTS_SCHEMA 2

/* Write DIR/NAME as a TSV: an optional comment line "# <comment>", then the header line
 * "# col1<TAB>col2..." and nrows rows of ncols numbers (row-major data, "%.17g", NaN
 * written as "NaN").  With labels (nrows strings, may be NULL) every row starts with its
 * label and cols[0] names the label column, so cols has ncols + 1 names.  Returns a GSL
 * status (error raised naming the file). */
int infb_tsv_write(const char *dir, const char *name, const char *comment, size_t ncols,
                   const char *const *cols, size_t nrows, const char *const *labels,
                   const double *data);

/* A JSON number, or null when v is not finite (JSON has no NaN).  New reference. */
json_t *infb_json_number(double v);
/* A JSON array of n numbers (null for non-finite entries).  New reference. */
json_t *infb_json_array(const double *v, size_t n);

/* {name, version, gsl, blas, blas_kernels, blas_threads, gemm_blocks, threads}: what
 * produced an output, `threads` being the run's execution threads.  New reference. */
json_t *infb_results_program(long threads);
/* One line "infbench VERSION; GSL X; BLAS: CONFIG" for text headers (static buffer). */
const char *infb_results_program_line(void);

/* Write root to path atomically, indented, keys in insertion order, ending in a newline. */
int infb_json_write(const char *path, const json_t *root);

/* Join dir and name into a newly allocated "dir/name" (free()); NULL on ENOMEM. */
char *infb_path_join(const char *dir, const char *name);

#endif
