/* Tests of src/exp/results: TSV layout, JSON numbers (NaN → null), provenance, atomic
 * writing. */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "exp/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *
slurp(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  static char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

int
main(void)
{
  plan(16);
  char dir[] = "/tmp/results-t.XXXXXX";
  ok(mkdtemp(dir) != NULL, "temporary directory");

  const char *cols[] = {"a", "b"};
  double data[] = {1.5, NAN, -2, 0.1};
  ok(infb_tsv_write(dir, "t.tsv", "a comment", 2, cols, 2, NULL, data) == 0, "tsv_write");
  char path[256];
  snprintf(path, sizeof path, "%s/t.tsv", dir);
  is_string("# a comment\n# a\tb\n1.5\tNaN\n-2\t0.10000000000000001\n", slurp(path),
            "TSV: comment, '#' header, %%.17g numbers, NaN");
  const char *lcols[] = {"name", "v"};
  const char *labels[] = {"mle", "map:x"};
  double v[] = {3, 4};
  ok(infb_tsv_write(dir, "l.tsv", NULL, 1, lcols, 2, labels, v) == 0, "labelled tsv_write");
  snprintf(path, sizeof path, "%s/l.tsv", dir);
  is_string("# name\tv\nmle\t3\nmap:x\t4\n", slurp(path), "TSV with row labels");
  ok(infb_tsv_write("/nonexistent-dir", "x.tsv", NULL, 2, cols, 0, NULL, data) != 0,
     "tsv_write into a missing directory fails");
  ok(strstr(infb_error_message(), "/nonexistent-dir/x.tsv") != NULL, "and names the file");

  json_t *nan = infb_json_number(NAN), *one = infb_json_number(1.25);
  ok(json_is_null(nan), "NaN becomes null");
  ok(json_is_real(one) && json_real_value(one) == 1.25, "finite numbers stay numbers");
  json_decref(nan);
  json_decref(one);
  double arr[] = {1, INFINITY, 3};
  json_t *a = infb_json_array(arr, 3);
  ok(json_array_size(a) == 3 && json_is_null(json_array_get(a, 1)), "arrays: inf becomes null");
  json_decref(a);

  json_t *prog = infb_results_program(1);
  is_string(PACKAGE_NAME, json_string_value(json_object_get(prog, "name")), "program name");
  ok(strncmp(json_string_value(json_object_get(prog, "gsl")), "2.", 2) == 0, "GSL version recorded");
  ok(strstr(json_string_value(json_object_get(prog, "blas")), "OpenBLAS") != NULL, "BLAS recorded");

  json_t *root = json_pack("{s:i, s:o}", "schema_version", 1, "program", prog);
  snprintf(path, sizeof path, "%s/r.json", dir);
  ok(infb_json_write(path, root) == 0, "json_write");
  json_error_t jerr;
  json_t *back = json_load_file(path, 0, &jerr);
  ok(back && json_equal(back, root), "results.json reads back equal");
  char *joined = infb_path_join("a", "b.tsv");
  is_string("a/b.tsv", joined, "path_join");
  free(joined);
  json_decref(back);
  json_decref(root);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    diag("could not remove %s", dir);
  return test_done();
}
