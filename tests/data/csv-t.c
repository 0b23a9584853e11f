/* Tests of src/data/csv.c: reading, column selection and order, quoting, line ends, every
 * error message exactly, and the two real data sets under experiments/data/. */
#define _POSIX_C_SOURCE 200809L /* fmemopen */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "data/csv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Feature lists for infb_csv_read (char *const *, which string literals are not under
 * -Wwrite-strings): L("a", "b", NULL) copies the names into a NULL-terminated list kept
 * in a pool that free_lists() releases at the end. */
static char **pool[64];
static size_t npool;

static char **
L(const char *first, ...)
{
  char **list = calloc(16, sizeof *list);
  va_list ap;
  va_start(ap, first);
  size_t k = 0;
  for (const char *s = first; s && k < 15; s = va_arg(ap, const char *))
    list[k++] = infb_strdup(s);
  va_end(ap);
  if (npool < sizeof pool / sizeof pool[0])
    pool[npool++] = list;
  return list;
}

static void
free_lists(void)
{
  for (size_t i = 0; i < npool; i++) {
    for (char **s = pool[i]; *s; s++)
      free(*s);
    free(pool[i]);
  }
  npool = 0;
}

/* Read fixture `name` expecting failure; check NULL, the status-free message and return
 * nothing.  The expected message is "<fixture path>: <tail>". */
static void
expect_error(const char *name, const char *target, char *const *features, const char *tail,
             const char *what)
{
  char path[4096], want[4600];
  snprintf(path, sizeof path, "%s", path_fixture(name));
  snprintf(want, sizeof want, "%s: %s", path, tail);
  infb_error_clear();
  infb_dataset *d = infb_csv_read(path, target, features);
  ok(d == NULL, "%s: %s is rejected", name, what);
  is_string(want, infb_error_message(), "%s: message for %s", name, what);
  infb_dataset_free(d);
}

/* The feature value X[i, name] of d, looked up by name (NaN if absent). */
static double
cell(const infb_dataset *d, size_t i, const char *name)
{
  for (size_t j = 0; j < d->p; j++)
    if (strcmp(d->names[j], name) == 0)
      return d->X[i * d->p + j];
  return NAN;
}

static void
test_good(void)
{
  const char *path = path_fixture("csv-good.csv");
  /* csv-good.csv: age,sex,bmi,bp,progression / 4 rows, typed in by hand. */
  infb_dataset *d = infb_csv_read(path, "progression", NULL);
  ok(d != NULL, "csv-good.csv reads with target 'progression'");
  if (!d) {
    diag("%s", infb_error_message());
    for (int k = 0; k < 13; k++)
      skip("csv-good.csv did not read");
    return;
  }
  is_int(4, (long long)d->n, "csv-good.csv: 4 data rows");
  is_int(4, (long long)d->p, "csv-good.csv: every column but the target is a feature");
  ok(strcmp(d->names[0], "age") == 0 && strcmp(d->names[1], "sex") == 0 &&
         strcmp(d->names[2], "bmi") == 0 && strcmp(d->names[3], "bp") == 0,
     "csv-good.csv: features in header order age,sex,bmi,bp");
  is_string("progression", d->target, "csv-good.csv: target name");
  is_string(path, d->source, "csv-good.csv: source is the path");
  ok(d->X[0] == 59 && d->X[1] == 2 && d->X[2] == 32.1 && d->X[3] == 101,
     "csv-good.csv: row 1 features 59,2,32.1,101");
  ok(d->X[3 * 4 + 0] == 24 && d->X[3 * 4 + 2] == 25.3, "csv-good.csv: row 4 age 24, bmi 25.3");
  ok(d->y[0] == 151 && d->y[1] == 75 && d->y[2] == 141 && d->y[3] == 206,
     "csv-good.csv: targets 151,75,141,206");
  ok(d->line && d->line[0] == 2 && d->line[1] == 3 && d->line[2] == 4 && d->line[3] == 5,
     "csv-good.csv: the rows' lines are 2, 3, 4, 5");
  infb_dataset_free(d);

  /* Selection and order: features as listed, not as in the file. */
  d = infb_csv_read(path, "progression", L("bmi", "age", NULL));
  ok(d && d->p == 2 && strcmp(d->names[0], "bmi") == 0 && strcmp(d->names[1], "age") == 0,
     "csv-good.csv: features {bmi, age} selected in that order");
  ok(d && d->X[0] == 32.1 && d->X[1] == 59 && d->X[2] == 21.6 && d->X[3] == 48,
     "csv-good.csv: rows 1-2 as (bmi, age) = (32.1, 59), (21.6, 48)");
  infb_dataset_free(d);

  /* No target: every column a feature, y NULL. */
  d = infb_csv_read(path, NULL, NULL);
  ok(d && d->p == 5 && d->y == NULL && d->target == NULL && d->X[4] == 151,
     "csv-good.csv without target: 5 features, y NULL, X[0,4] = 151");
  infb_dataset_free(d);
  d = infb_csv_read(path, NULL, L("bp", NULL));
  ok(d && d->p == 1 && d->n == 4 && d->y == NULL && d->X[3] == 84,
     "csv-good.csv, features {bp}, no target: one column, X[3] = 84");
  infb_dataset_free(d);
}

static void
test_formats(void)
{
  /* Quoted names and cells with commas and doubled quotes; the unused text column. */
  infb_dataset *d = infb_csv_read(path_fixture("csv-quoted.csv"), "y", L("x, first", "x2", NULL));
  ok(d && d->n == 2 && d->p == 2, "csv-quoted.csv: 2 rows of 2 quoted-name features");
  ok(d && strcmp(d->names[0], "x, first") == 0, "csv-quoted.csv: name with a comma kept");
  ok(d && d->X[0] == 1.5 && d->X[1] == 2 && d->X[2] == -3 && d->X[3] == 0.4,
     "csv-quoted.csv: values 1.5, \"2\", -3, \" 4e-1 \"");
  ok(d && d->y[0] == 0 && d->y[1] == 1, "csv-quoted.csv: targets 0, 1");
  infb_dataset_free(d);
  expect_error("csv-quoted.csv", "y", NULL,
               "line 2, column 'label': 'Smith, John' is not a number",
               "a used quoted text column");

  d = infb_csv_read(path_fixture("csv-crlf.csv"), "b", NULL);
  ok(d && d->n == 2 && d->X[0] == 1 && d->X[1] == 3 && d->y[1] == 4,
     "csv-crlf.csv: CRLF line ends and a trailing blank line give 2 rows");
  ok(d && d->line && d->line[0] == 2 && d->line[1] == 3, "csv-crlf.csv: on lines 2 and 3");
  infb_dataset_free(d);
  d = infb_csv_read(path_fixture("csv-no-final-newline.csv"), "b", NULL);
  ok(d && d->n == 2 && d->X[1] == 3 && d->y[1] == 4,
     "csv-no-final-newline.csv: the last row without a newline is read");
  infb_dataset_free(d);
  d = infb_csv_read(path_fixture("csv-bom.csv"), "b", NULL);
  ok(d && d->p == 1 && strcmp(d->names[0], "a") == 0,
     "csv-bom.csv: a UTF-8 byte-order mark is not part of the first name");
  infb_dataset_free(d);
  /* Unused columns are not parsed. */
  d = infb_csv_read(path_fixture("csv-nonnumeric.csv"), "sex", L("age", "bp", NULL));
  ok(d && d->n == 4 && d->X[3 * 2 + 1] == 90,
     "csv-nonnumeric.csv without the bad column 'bmi' reads (row 4 bp 90)");
  infb_dataset_free(d);
}

static void
test_errors(void)
{
  char **f_b = L("a", "b", NULL), **f_c = L("a", "c", NULL), **f_d = L("a", "d", NULL),
       **f_e = L("a", "e", NULL), **f_foo = L("age", "foo", NULL),
       **f_twice = L("age", "bmi", "age", NULL), **f_t = L("bmi", "progression", NULL),
       **f_none = L(NULL);

  expect_error("csv-missing.csv", NULL, NULL, "cannot open: No such file or directory",
               "a missing file");
  expect_error("csv-ragged.csv", "d", NULL, "line 7: 3 fields, but the header has 4",
               "a short row");
  expect_error("csv-wide.csv", NULL, NULL, "line 3: 3 fields, but the header has 2",
               "a long row");
  expect_error("csv-nonnumeric.csv", "bp", NULL, "line 5, column 'bmi': 'abc' is not a number",
               "a text cell");
  expect_error("csv-empty-cell.csv", "bp", NULL, "line 5, column 'bmi': empty cell",
               "an empty cell");
  expect_error("csv-good.csv", "foo", NULL, "no column named 'foo'", "an unknown target");
  expect_error("csv-good.csv", "progression", f_foo, "no column named 'foo'",
               "an unknown feature");
  expect_error("csv-good.csv", "progression", f_twice, "feature 'age' is listed twice",
               "a feature listed twice");
  expect_error("csv-good.csv", "progression", f_t,
               "column 'progression' is both the target and a feature",
               "the target as a feature");
  expect_error("csv-good.csv", "progression", f_none, "no feature columns",
               "an empty feature list");
  expect_error("csv-header-only.csv", NULL, NULL, "no data rows", "a header without rows");
  expect_error("csv-empty.csv", NULL, NULL, "empty file", "an empty file");
  expect_error("csv-blank-lines.csv", NULL, NULL, "empty file", "a file of blank lines");
  expect_error("csv-dup-header.csv", NULL, NULL, "line 1: duplicate column name 'age'",
               "a duplicate column name");
  expect_error("csv-empty-name.csv", NULL, NULL, "line 1: column 2 has an empty name",
               "an empty column name");
  expect_error("csv-strict.csv", NULL, f_b, "line 2, column 'b': 'nan' is not a number",
               "'nan'");
  expect_error("csv-strict.csv", NULL, f_c, "line 2, column 'c': '1e' is not a number",
               "'1e'");
  expect_error("csv-strict.csv", NULL, f_d, "line 2, column 'd': 'inf' is not a number",
               "'inf'");
  expect_error("csv-strict.csv", NULL, f_e, "line 2, column 'e': '1e999' is out of range",
               "'1e999'");
  expect_error("csv-unterminated.csv", NULL, NULL, "line 2: unterminated quoted field",
               "an unterminated quote");
  expect_error("csv-badquote.csv", NULL, NULL, "line 2: malformed quoting",
               "text after a closing quote");
  infb_dataset *d = infb_csv_read(path_fixture("csv-strict.csv"), NULL, L("a", NULL));
  ok(d && d->n == 1 && d->X[0] == 1, "csv-strict.csv with only column 'a' reads");
  infb_dataset_free(d);
}

/* infb_csv_read_stream on memory (fmemopen): the rows, and messages naming the name. */
static void
test_stream(void)
{
  char good[] = "a,b\n1,2\n\n3,4\n";
  FILE *f = fmemopen(good, strlen(good), "rb");
  infb_dataset *d = f ? infb_csv_read_stream(f, "mem.csv", "b", NULL) : NULL;
  ok(d && d->n == 2 && d->p == 1 && d->X[1] == 3 && d->y[1] == 4 &&
         strcmp(d->source, "mem.csv") == 0 && d->line[1] == 3,
     "read_stream: 2 rows from memory, source mem.csv, the second on line 3");
  infb_dataset_free(d);
  if (f)
    fclose(f);
  char bad[] = "a,b\n1,2\nx,4\n";
  f = fmemopen(bad, strlen(bad), "rb");
  infb_error_clear();
  d = f ? infb_csv_read_stream(f, "mem.csv", "b", NULL) : NULL;
  ok(d == NULL, "read_stream: a text cell is refused");
  is_string("mem.csv: line 3, column 'a': 'x' is not a number", infb_error_message(),
            "read_stream: the message names the given name");
  if (f)
    fclose(f);
}

/* The real data sets: counts, names and first rows as in experiments/data/README.md, the
 * first rows checked against sklearn's source files (diabetes_data_raw.csv.gz line 1:
 * "59 2 32.1 101.0 157 93.2 38.0 4.0 4.8598 87", target 151; breast_cancer.csv line 2:
 * "17.99,10.38,...,0.1189,0", sklearn class 0 = malignant). */
static void
test_real(void)
{
  const char *top = getenv("top_srcdir");
  const int count = 15;
  if (!top || !*top) {
    for (int k = 0; k < count; k++)
      skip("top_srcdir is not set (run through make check)");
    return;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/experiments/data/diabetes.csv", top);
  infb_dataset *d = infb_csv_read(path, "progression", NULL);
  ok(d != NULL, "diabetes.csv reads with target 'progression'");
  if (d) {
    is_int(442, (long long)d->n, "diabetes.csv: 442 patients");
    is_int(10, (long long)d->p, "diabetes.csv: 10 features");
    ok(strcmp(d->names[0], "age") == 0 && strcmp(d->names[2], "bmi") == 0 &&
           strcmp(d->names[9], "s6") == 0,
       "diabetes.csv: names age..s6");
    ok(cell(d, 0, "age") == 59 && cell(d, 0, "sex") == 2 && cell(d, 0, "bmi") == 32.1 &&
           cell(d, 0, "s5") == 4.8598 && cell(d, 0, "s6") == 87,
       "diabetes.csv row 1: age 59, sex 2, bmi 32.1, s5 4.8598, s6 87");
    is_double_abs(151, d->y[0], 0, "diabetes.csv row 1: progression 151");
    is_double_abs(57, d->y[441], 0, "diabetes.csv row 442: progression 57");
  } else {
    diag("%s", infb_error_message());
    for (int k = 0; k < 6; k++)
      skip("diabetes.csv did not read");
  }
  infb_dataset_free(d);

  snprintf(path, sizeof path, "%s/experiments/data/breast-cancer.csv", top);
  d = infb_csv_read(path, "malignant", NULL);
  ok(d != NULL, "breast-cancer.csv reads with target 'malignant'");
  if (d) {
    is_int(569, (long long)d->n, "breast-cancer.csv: 569 cases");
    is_int(30, (long long)d->p, "breast-cancer.csv: 30 features");
    ok(strcmp(d->names[0], "mean_radius") == 0 && strcmp(d->names[10], "radius_error") == 0 &&
           strcmp(d->names[29], "worst_fractal_dimension") == 0,
       "breast-cancer.csv: names mean_radius, radius_error, worst_fractal_dimension");
    ok(d->X[0] == 17.99 && d->X[1] == 10.38 && d->X[29] == 0.1189,
       "breast-cancer.csv row 1: 17.99, 10.38, ..., 0.1189");
    is_double_abs(1, d->y[0], 0, "breast-cancer.csv row 1 is malignant (sklearn class 0)");
    double ones = 0;
    int binary = 1;
    for (size_t i = 0; i < d->n; i++) {
      ones += d->y[i];
      binary &= d->y[i] == 0 || d->y[i] == 1;
    }
    ok(binary, "breast-cancer.csv: every target is 0 or 1");
    is_double_abs(212, ones, 0, "breast-cancer.csv: 212 malignant (UCI class distribution)");
  } else {
    diag("%s", infb_error_message());
    for (int k = 0; k < 7; k++)
      skip("breast-cancer.csv did not read");
  }
  infb_dataset_free(d);
}

int
main(void)
{
  plan(14 + 11 + 2 * 21 + 1 + 3 + 15 + 1);
  test_good();
  test_formats();
  test_errors();
  test_stream();
  test_real();
  infb_dataset_free(NULL);
  ok(1, "infb_dataset_free(NULL) is a no-op");
  free_lists();
  return test_done();
}
