/* CSV files with a header row into datasets, parsed by libcsv (RFC 4180 quoting) with
 * every used cell checked by the strict number parser (see csv.h). */
#include "config.h"
#include "data/csv.h"
#include "core/error.h"
#include "core/strparse.h"

#include <csv.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes read from the file per csv_parse call. */
#define CHUNK_BYTES 65536
/* Column roles after the header is resolved. */
#define UNUSED SIZE_MAX
#define TARGET (SIZE_MAX - 1)

typedef struct reader {
  const char *path;
  const char *target;       /* requested target column, or NULL */
  char *const *features;    /* requested features, or NULL */
  int status;               /* first error (raised already); callbacks stop after it */
  size_t record;            /* records completed, the header being record 1 */

  /* The fields of the record being read (reused buffers, one per field position). */
  char **cell;
  size_t *cell_cap;
  size_t cell_slots;        /* allocated positions */
  size_t nfield;            /* fields seen in the current record */

  /* Header and selection. */
  char **header;            /* ncol names */
  size_t ncol;
  size_t *role;             /* per column: feature index, TARGET or UNUSED */
  size_t *feat_col;         /* per feature: its column */
  size_t p;
  int has_target;

  /* Data. */
  double *X, *y;
  size_t *line;             /* per row: its record number */
  size_t n, cap;
} reader;

static const char *
plural(size_t k)
{
  return k == 1 ? "" : "s";
}

static int
fail_nomem(reader *rd)
{
  if (!rd->status)
    rd->status = GSL_ENOMEM;
  return rd->status;
}

/* libcsv's field callback: keep a NUL-terminated copy at position nfield. */
static void
on_field(void *s, size_t len, void *data)
{
  reader *rd = data;
  if (rd->status)
    return;
  if (rd->nfield == rd->cell_slots) {
    size_t slots = rd->cell_slots ? 2 * rd->cell_slots : 16;
    char **cell = realloc(rd->cell, slots * sizeof *cell);
    if (cell)
      rd->cell = cell;
    size_t *cap = realloc(rd->cell_cap, slots * sizeof *cap);
    if (cap)
      rd->cell_cap = cap;
    if (!cell || !cap) {
      fail_nomem(rd);
      INFB_ERROR(GSL_ENOMEM, "%s: out of memory reading fields", rd->path);
      return;
    }
    for (size_t k = rd->cell_slots; k < slots; k++) {
      rd->cell[k] = NULL;
      rd->cell_cap[k] = 0;
    }
    rd->cell_slots = slots;
  }
  size_t k = rd->nfield;
  if (rd->cell_cap[k] < len + 1) {
    char *b = realloc(rd->cell[k], len + 1);
    if (!b) {
      fail_nomem(rd);
      INFB_ERROR(GSL_ENOMEM, "%s: out of memory reading a field of %zu bytes", rd->path, len);
      return;
    }
    rd->cell[k] = b;
    rd->cell_cap[k] = len + 1;
  }
  if (len > 0)
    memcpy(rd->cell[k], s, len);
  rd->cell[k][len] = '\0';
  /* A NUL byte inside a cell would silently cut it short; make it unparseable instead. */
  if (memchr(rd->cell[k], '\0', len))
    rd->cell[k][0] = '?';
  rd->nfield++;
}

static size_t
find_column(const reader *rd, const char *name)
{
  for (size_t c = 0; c < rd->ncol; c++)
    if (strcmp(rd->header[c], name) == 0)
      return c;
  return UNUSED;
}

/* Record 1: take the column names and resolve target and features to columns. */
static int
take_header(reader *rd)
{
  size_t ncol = rd->nfield;
  rd->header = calloc(ncol, sizeof *rd->header);
  rd->role = malloc(ncol * sizeof *rd->role);
  if (!rd->header || !rd->role)
    return fail_nomem(rd);
  rd->ncol = ncol;
  for (size_t c = 0; c < ncol; c++) {
    if (rd->cell[c][0] == '\0')
      return rd->status = INFB_ERROR(INFB_EDATA, "%s: line 1: column %zu has an empty name",
                                     rd->path, c + 1);
    for (size_t b = 0; b < c; b++)
      if (strcmp(rd->header[b], rd->cell[c]) == 0)
        return rd->status = INFB_ERROR(INFB_EDATA, "%s: line 1: duplicate column name '%s'",
                                       rd->path, rd->cell[c]);
    if (!(rd->header[c] = infb_strdup(rd->cell[c])))
      return fail_nomem(rd);
    rd->role[c] = UNUSED;
  }

  size_t tcol = UNUSED;
  if (rd->target) {
    tcol = find_column(rd, rd->target);
    if (tcol == UNUSED)
      return rd->status = INFB_ERROR(INFB_EDATA, "%s: no column named '%s'", rd->path,
                                     rd->target);
    rd->role[tcol] = TARGET;
    rd->has_target = 1;
  }

  size_t want = 0;
  if (rd->features)
    while (rd->features[want])
      want++;
  else
    want = ncol - (tcol != UNUSED);
  rd->feat_col = malloc((want ? want : 1) * sizeof *rd->feat_col);
  if (!rd->feat_col)
    return fail_nomem(rd);
  if (rd->features) {
    for (size_t j = 0; j < want; j++) {
      const char *name = rd->features[j];
      size_t c = find_column(rd, name);
      if (c == UNUSED)
        return rd->status = INFB_ERROR(INFB_EDATA, "%s: no column named '%s'", rd->path,
                                       name);
      if (rd->role[c] == TARGET)
        return rd->status = INFB_ERROR(
                   INFB_EDATA, "%s: column '%s' is both the target and a feature", rd->path,
                   name);
      if (rd->role[c] != UNUSED)
        return rd->status = INFB_ERROR(INFB_EDATA, "%s: feature '%s' is listed twice",
                                       rd->path, name);
      rd->role[c] = j;
      rd->feat_col[j] = c;
    }
  } else {
    size_t j = 0;
    for (size_t c = 0; c < ncol; c++)
      if (c != tcol) {
        rd->role[c] = j;
        rd->feat_col[j++] = c;
      }
  }
  rd->p = want;
  if (rd->p == 0)
    return rd->status = INFB_ERROR(INFB_EDATA, "%s: no feature columns", rd->path);
  return GSL_SUCCESS;
}

/* Make room for one more row. */
static int
grow_rows(reader *rd)
{
  if (rd->n < rd->cap)
    return GSL_SUCCESS;
  size_t cap = rd->cap ? 2 * rd->cap : 64;
  if (cap > SIZE_MAX / sizeof(double) / rd->p)
    return fail_nomem(rd);
  double *X = realloc(rd->X, cap * rd->p * sizeof *X);
  if (!X)
    return fail_nomem(rd);
  rd->X = X;
  size_t *line = realloc(rd->line, cap * sizeof *line);
  if (!line)
    return fail_nomem(rd);
  rd->line = line;
  if (rd->has_target) {
    double *y = realloc(rd->y, cap * sizeof *y);
    if (!y)
      return fail_nomem(rd);
    rd->y = y;
  }
  rd->cap = cap;
  return GSL_SUCCESS;
}

/* A data record: check its width, then parse the used cells from left to right. */
static int
take_row(reader *rd)
{
  if (rd->nfield != rd->ncol)
    return rd->status = INFB_ERROR(INFB_EDATA, "%s: line %zu: %zu field%s, but the header has %zu",
                                   rd->path, rd->record, rd->nfield, plural(rd->nfield),
                                   rd->ncol);
  if (grow_rows(rd) != GSL_SUCCESS) {
    INFB_ERROR(GSL_ENOMEM, "%s: out of memory at line %zu", rd->path, rd->record);
    return rd->status;
  }
  for (size_t c = 0; c < rd->ncol; c++) {
    if (rd->role[c] == UNUSED)
      continue;
    const char *s = rd->cell[c];
    const char *why = NULL;
    double v;
    if (infb_parse_double(s, &v, &why) != GSL_SUCCESS) {
      if (strcmp(why, "empty value") == 0)
        return rd->status = INFB_ERROR(INFB_EDATA, "%s: line %zu, column '%s': empty cell",
                                       rd->path, rd->record, rd->header[c]);
      return rd->status = INFB_ERROR(INFB_EDATA, "%s: line %zu, column '%s': '%s' is %s",
                                     rd->path, rd->record, rd->header[c], s, why);
    }
    if (rd->role[c] == TARGET)
      rd->y[rd->n] = v;
    else
      rd->X[rd->n * rd->p + rd->role[c]] = v;
  }
  rd->line[rd->n] = rd->record;
  rd->n++;
  return GSL_SUCCESS;
}

/* libcsv's end-of-record callback. */
static void
on_record(int c, void *data)
{
  (void)c;
  reader *rd = data;
  if (rd->status)
    return;
  rd->record++;
  if (rd->record == 1)
    take_header(rd);
  else
    take_row(rd);
  rd->nfield = 0;
}

static void
reader_free(reader *rd)
{
  for (size_t k = 0; k < rd->cell_slots; k++)
    free(rd->cell[k]);
  free(rd->cell);
  free(rd->cell_cap);
  if (rd->header)
    for (size_t c = 0; c < rd->ncol; c++)
      free(rd->header[c]);
  free(rd->header);
  free(rd->role);
  free(rd->feat_col);
  free(rd->X);
  free(rd->y);
  free(rd->line);
}

/* Feed the file to libcsv.  Returns a status (raised). */
static int
parse_file(reader *rd, FILE *f)
{
  struct csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
    return rd->status = INFB_ERROR(GSL_ENOMEM, "%s: cannot start the CSV parser", rd->path);
  unsigned char *buf = malloc(CHUNK_BYTES);
  if (!buf) {
    csv_free(&parser);
    return rd->status = INFB_ERROR(GSL_ENOMEM, "%s: out of memory", rd->path);
  }
  int first = 1;
  size_t got;
  while (!rd->status && (got = fread(buf, 1, CHUNK_BYTES, f)) > 0) {
    unsigned char *s = buf;
    /* A UTF-8 byte-order mark (as spreadsheets write) is not part of the first name. */
    if (first && got >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) {
      s += 3;
      got -= 3;
    }
    first = 0;
    if (csv_parse(&parser, s, got, on_field, on_record, rd) != got && !rd->status)
      rd->status = INFB_ERROR(INFB_EDATA, "%s: line %zu: %s", rd->path, rd->record + 1,
                              csv_error(&parser) == CSV_EPARSE
                                  ? "malformed quoting"
                                  : csv_strerror(csv_error(&parser)));
  }
  if (!rd->status && ferror(f))
    rd->status = INFB_ERROR(INFB_EDATA, "%s: read error: %s", rd->path, strerror(errno));
  if (!rd->status && csv_fini(&parser, on_field, on_record, rd) != 0 && !rd->status)
    rd->status = INFB_ERROR(INFB_EDATA, "%s: line %zu: %s", rd->path, rd->record + 1,
                            "unterminated quoted field");
  csv_free(&parser);
  free(buf);
  return rd->status;
}

infb_dataset *
infb_csv_read(const char *path, const char *target, char *const *features)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    INFB_ERROR_NULL(INFB_EDATA, "%s: cannot open: %s", path, strerror(errno));
  infb_dataset *d = infb_csv_read_stream(f, path, target, features);
  fclose(f);
  return d;
}

infb_dataset *
infb_csv_read_stream(FILE *f, const char *path, const char *target, char *const *features)
{
  reader rd = {.path = path, .target = target, .features = features};
  int status = parse_file(&rd, f);
  if (!status && rd.record == 0)
    status = INFB_ERROR(INFB_EDATA, "%s: empty file", path);
  else if (!status && rd.n == 0)
    status = INFB_ERROR(INFB_EDATA, "%s: no data rows", path);

  infb_dataset *d = NULL;
  if (!status && (d = infb_calloc(1, sizeof *d))) {
    d->n = rd.n;
    d->p = rd.p;
    d->names = infb_calloc(rd.p, sizeof *d->names);
    /* Hand the row arrays over (trimmed to size). */
    double *X = realloc(rd.X, rd.n * rd.p * sizeof *X);
    d->X = X ? X : rd.X;
    rd.X = NULL;
    size_t *line = realloc(rd.line, rd.n * sizeof *line);
    d->line = line ? line : rd.line;
    rd.line = NULL;
    if (rd.has_target) {
      double *y = realloc(rd.y, rd.n * sizeof *y);
      d->y = y ? y : rd.y;
      rd.y = NULL;
    }
    int okay = d->names != NULL;
    for (size_t j = 0; okay && j < rd.p; j++)
      okay = (d->names[j] = infb_strdup(rd.header[rd.feat_col[j]])) != NULL;
    if (okay && rd.has_target)
      okay = (d->target = infb_strdup(target)) != NULL;
    if (okay)
      okay = (d->source = infb_strdup(path)) != NULL;
    if (!okay) {
      infb_dataset_free(d);
      d = NULL;
    }
  }
  reader_free(&rd);
  return d;
}
