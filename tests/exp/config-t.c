/* Tests of the configuration system (exp/config.h, exp/keys.h): every error message through
 * the bad-*.ini fixtures listed in tests/fixtures/bad-messages.txt, --set overrides,
 * variant fallback, sweeps, path resolution, the canonical form and its hash. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "tap/basic.h"
#include "exp/config.h"
#include "exp/keys.h"
#include "core/error.h"
#include "core/sha256.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSG 1024
#define MAXFIX 128

typedef struct fixture {
  char name[128];
  char msg[512]; /* with FILE for the fixture's path */
} fixture;

static fixture fixtures[MAXFIX];
static size_t nfixtures;

/* Copy src into dst[cap], truncating. */
static void
copy(char *dst, size_t cap, const char *src)
{
  size_t n = strlen(src);
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* Read bad-messages.txt: "NAME<TAB>MESSAGE" per line. */
static void
load_messages(void)
{
  FILE *f = fopen(path_fixture("bad-messages.txt"), "r");
  if (!f)
    return;
  char line[1024];
  while (nfixtures < MAXFIX && fgets(line, sizeof line, f)) {
    char *tab = strchr(line, '\t');
    if (!tab)
      continue;
    *tab = '\0';
    line[strcspn(tab + 1, "\n") + (size_t)(tab + 1 - line)] = '\0';
    copy(fixtures[nfixtures].name, sizeof fixtures[nfixtures].name, line);
    copy(fixtures[nfixtures].msg, sizeof fixtures[nfixtures].msg, tab + 1);
    nfixtures++;
  }
  fclose(f);
}

/* The message with "FILE" replaced by path. */
static void
expand(const char *msg, const char *path, char *out, size_t cap)
{
  const char *p = strstr(msg, "FILE");
  if (!p) {
    copy(out, cap, msg);
    return;
  }
  size_t k = (size_t)(p - msg);
  if (k >= cap)
    k = cap - 1;
  memcpy(out, msg, k);
  out[k] = '\0';
  copy(out + k, cap - k, path);
  size_t used = strlen(out);
  copy(out + used, cap - used, p + 4);
}

/* Read and resolve; the first failing status, with msg. */
static int
load(infb_config *c, const char *path, char *msg)
{
  msg[0] = '\0';
  int st = infb_config_read(c, path, msg, MSG);
  if (st == GSL_SUCCESS)
    st = infb_config_resolve(c, msg, MSG);
  return st;
}

/* Read a fixture, apply the --set assignments, resolve. */
static int
load_sets(infb_config *c, const char *name, char **sets, size_t n, char *msg)
{
  msg[0] = '\0';
  int st = infb_config_read(c, path_fixture(name), msg, MSG);
  for (size_t i = 0; !st && i < n; i++)
    st = infb_config_set(c, sets[i], msg, MSG);
  if (st == GSL_SUCCESS)
    st = infb_config_resolve(c, msg, MSG);
  return st;
}

/* A copy of text without the first occurrence of line ("\nkey = v\n" keeps one "\n"). */
static char *
without_line(const char *text, const char *line)
{
  char *copy = infb_strdup(text), *at = copy ? strstr(copy, line) : NULL;
  if (at)
    memmove(at + 1, at + strlen(line), strlen(at + strlen(line)) + 1);
  return copy;
}

static infb_config *
load_good(const char *name)
{
  char msg[MSG];
  infb_config *c = infb_config_alloc();
  if (c && load(c, path_fixture(name), msg) != GSL_SUCCESS) {
    diag("%s: %s", name, msg);
    infb_config_free(c);
    return NULL;
  }
  return c;
}

static int
count_bad_files_unlisted(void)
{
  char dir[4096];
  copy(dir, sizeof dir, path_fixture(""));
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  int missing = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (strncmp(de->d_name, "bad-", 4) != 0 || n < 4 || strcmp(de->d_name + n - 4, ".ini") != 0)
      continue;
    int listed = 0;
    for (size_t i = 0; i < nfixtures && !listed; i++)
      listed = strcmp(fixtures[i].name, de->d_name) == 0;
    if (!listed) {
      diag("%s is not listed in bad-messages.txt", de->d_name);
      missing++;
    }
  }
  closedir(d);
  return missing;
}

/* ------------------------------------------------------------------ the key table */

static void
test_table(void)
{
  /* Every default is a valid value of its own key (applied through --set), names are lower
   * case, and no (section, key) appears twice. */
  int bad_default = 0, bad_case = 0, dup = 0;
  infb_config *c = infb_config_alloc();
  for (size_t i = 0; i < infb_nkeys; i++) {
    const infb_key *k = &infb_keys[i];
    for (const char *p = k->name; *p; p++)
      bad_case += isupper((unsigned char)*p) != 0;
    for (const char *p = k->section; *p; p++)
      bad_case += isupper((unsigned char)*p) != 0;
    for (size_t j = 0; j < i; j++)
      if (strcmp(infb_keys[j].section, k->section) == 0 &&
          strcmp(infb_keys[j].name, k->name) == 0)
        dup++;
    if (k->def) {
      char a[256], msg[MSG];
      snprintf(a, sizeof a, "%s.%s=%s", k->section, k->name, k->def);
      if (infb_config_set(c, a, msg, sizeof msg) != GSL_SUCCESS) {
        diag("default rejected: %s", msg);
        bad_default++;
      }
    }
    if (k->required && k->def)
      bad_default++;
  }
  infb_config_free(c);
  is_int(0, bad_default, "every default of the key table passes its own validation");
  is_int(0, bad_case, "section and key names are lower case");
  is_int(0, dup, "no (section, key) pair appears twice in the table");

  int bad_models = 0;
  for (size_t i = 0; i < infb_nestimators; i++) {
    const char *m = infb_estimators[i].models;
    for (const char *p = m; *p;) {
      size_t len = strcspn(p, "|");
      int found = 0;
      for (size_t j = 0; j < infb_nmodels; j++)
        found |=
          strlen(infb_models[j].name) == len && strncmp(infb_models[j].name, p, len) == 0;
      bad_models += !found;
      p += len + (p[len] == '|');
    }
    bad_models += !infb_key_section_variants(infb_estimators[i].name);
  }
  is_int(0, bad_models, "every estimator names known models and takes variants");
  is_int(4, (long long)infb_nmodels, "four models (linreg, logreg, lingauss, vae)");
  is_int(3, (long long)infb_nsources, "three data sources (csv, synthetic, idx)");

  ok(infb_key_find("map:strong", "lambda") == infb_key_find("map", "lambda") &&
       infb_key_find("map", "lambda") != NULL,
     "key_find: [map:strong] lambda is [map] lambda");
  ok(infb_key_find("data:x", "train") == NULL, "key_find: [data:x] is unknown (no variants)");
  ok(infb_key_find("map", "lamda") == NULL, "key_find: unknown key gives NULL");
  ok(infb_key_section_known("plot") && infb_key_section_known("map:x") &&
       !infb_key_section_known("foo") && !infb_key_section_known("Map"),
     "section_known: plot, map:x yes; foo, Map no");
  ok(infb_key_section_variants("map") && infb_key_section_variants("meanfield") &&
       !infb_key_section_variants("data") && !infb_key_section_variants("experiment"),
     "section_variants: estimator sections only");
}

/* ------------------------------------------------------------------ error fixtures */

static void
test_fixtures(void)
{
  for (size_t i = 0; i < nfixtures; i++) {
    char path[4096], want[MSG], msg[MSG];
    copy(path, sizeof path, path_fixture(fixtures[i].name));
    expand(fixtures[i].msg, path, want, sizeof want);
    infb_config *c = infb_config_alloc();
    int st = load(c, path, msg);
    is_int(INFB_ECONFIG, st, "%s: status INFB_ECONFIG", fixtures[i].name);
    is_string(want, msg, "%s: message", fixtures[i].name);
    infb_config_free(c);
  }
  is_int(0, count_bad_files_unlisted(),
         "every bad-*.ini fixture is listed in bad-messages.txt");

  char msg[MSG], want[MSG];
  const char *nofile = path_fixture("no-such-file.ini");
  infb_config *c = infb_config_alloc();
  is_int(INFB_ECONFIG, infb_config_read(c, nofile, msg, sizeof msg),
         "reading a missing file fails with INFB_ECONFIG");
  snprintf(want, sizeof want, "%s: cannot open: No such file or directory", nofile);
  is_string(want, msg, "missing file: message names the file and the reason");
  is_string(nofile, infb_config_file(c), "config_file is the path even after failure");
  infb_config_free(c);

  c = infb_config_alloc();
  is_string("", infb_config_file(c), "config_file is \"\" before reading");
  infb_config_read(c, path_fixture("good-basic.ini"), msg, sizeof msg);
  ok(infb_config_read(c, path_fixture("good-basic.ini"), msg, sizeof msg) == INFB_ECONFIG &&
       strstr(msg, "reads one file") != NULL,
     "a second infb_config_read on the same config is refused");
  infb_config_free(c);

  /* A message that does not fit is truncated, never overrun. */
  c = infb_config_alloc();
  char small[12];
  memset(small, 'Z', sizeof small);
  infb_config_read(c, path_fixture("bad-key.ini"), small, 8);
  ok(small[7] == '\0' && small[8] == 'Z', "error message truncated to the given capacity");
  infb_config_free(c);
}

/* ------------------------------------------------------------------ good files */

static void
test_basic(void)
{
  infb_config *c = load_good("good-basic.ini");
  ok(c != NULL, "good-basic.ini reads and resolves");
  if (!c) {
    for (int i = 0; i < 24; i++)
      skip("good-basic.ini did not load");
    return;
  }
  is_int(42, infb_config_int(c, "experiment", "seed"), "[experiment] seed = 42");
  is_string("good-basic", infb_config_get(c, "experiment", "name"),
            "[experiment] name defaults to the file's base name without .ini");
  is_string("ridge and evidence on a small CSV",
            infb_config_get(c, "experiment", "description"),
            "[experiment] description kept as written");
  is_string("x1, x2", infb_config_get(c, "data", "features"), "[data] features as written");
  ok(infb_config_is_word(c, "model", "noise", "estimate"),
     "[model] noise = estimate is the word");
  ok(isnan(infb_config_double(c, "model", "noise")), "double accessor on a word gives NAN");
  is_double_abs(2.5, infb_config_double(c, "bayes", "alpha"), 0, "[bayes] alpha = 2.5");
  ok(infb_config_is_word(c, "bayes", "beta", "evidence") &&
       !infb_config_is_word(c, "bayes", "alpha", "evidence"),
     "[bayes] beta defaults to evidence; alpha is a number");
  is_int(1, infb_config_bool(c, "model", "intercept"), "[model] intercept defaults to yes");
  is_int(0, infb_config_bool(c, "data", "standardize"), "[data] standardize defaults to no");
  is_int(200, infb_config_int(c, "plot", "grid"), "[plot] grid defaults to 200");
  is_double_abs(0.2, infb_config_double(c, "data", "test_fraction"), 0,
                "[data] test_fraction defaults to 0.2");
  ok(infb_config_get(c, "map", "lamda") == NULL, "get of an unknown key is NULL");

  char *const *est = infb_config_estimators(c);
  ok(est[0] && est[1] && est[2] && est[3] && !est[4] && strcmp(est[0], "mle") == 0 &&
       strcmp(est[1], "map") == 0 && strcmp(est[2], "bayes") == 0 &&
       strcmp(est[3], "meanfield") == 0,
     "estimators: mle, map, bayes, meanfield in order, NULL-terminated");

  /* Paths: relative to the INI file's directory; absolute unchanged. */
  char want[4096];
  copy(want, sizeof want, path_fixture("data/train.csv"));
  char *p = infb_config_path(c, "data", "train");
  is_string(want, p, "[data] train resolved against the INI file's directory");
  free(p);
  p = infb_config_path(c, "data", "test");
  is_string("/data/test.csv", p, "[data] test: an absolute path is unchanged");
  free(p);
  is_string("data/train.csv", infb_config_get(c, "data", "train"),
            "get returns the path as written");

  /* Lines. */
  is_int(3, infb_config_line(c, "experiment", "seed"), "line of [experiment] seed is 3");
  is_int(21, infb_config_line(c, "map", "lambda"), "line of [map] lambda is 21");
  is_int(0, infb_config_line(c, "plot", "grid"), "line of a defaulted key is 0");

  /* The sweep 1e-4..1e2/7: ln v_i = ((6−i) ln 1e-4 + i ln 1e2)/6, i.e. v_i = 10^(i−4). */
  double *v = NULL;
  size_t n = 0;
  is_int(GSL_SUCCESS, infb_config_sweep(c, "map", "lambda", &v, &n), "sweep of [map] lambda");
  is_int(7, (long long)n, "1e-4..1e2/7 has 7 values");
  int exact = n == 7 && v[0] == 1e-4 && v[6] == 1e2;
  ok(exact, "sweep endpoints are exactly LO and HI");
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double w = pow(10.0, (double)i - 4.0);
    worst = fmax(worst, fabs(v[i] - w) / w);
  }
  is_double_abs(0, worst, 1e-14, "sweep values are 10^(i-4), i = 0..6 (max relative error)");
  free(v);
  infb_config_free(c);
}

static void
test_syntax(void)
{
  infb_config *c = load_good("good-syntax.ini");
  ok(c != NULL, "good-syntax.ini (BOM, CRLF, indentation, ':', comments) reads and resolves");
  if (!c) {
    for (int i = 0; i < 7; i++)
      skip("good-syntax.ini did not load");
    return;
  }
  is_int(7, infb_config_int(c, "experiment", "seed"), "'seed: 7   # comment' gives 7");
  is_int(2, infb_config_int(c, "experiment", "threads"),
         "tab-indented 'threads = 2 ; comment'");
  is_string("a;b#c is kept whole", infb_config_get(c, "experiment", "description"),
            "';' and '#' not preceded by a blank are part of the value");
  is_string("syntax-test", infb_config_get(c, "experiment", "name"),
            "a repeated [experiment] header adds keys to the section");
  is_int(5, infb_config_line(c, "experiment", "seed"),
         "line count includes BOM and comment lines");
  is_int(12, infb_config_line(c, "experiment", "name"), "line of name in the repeated section");
  is_string("train.csv", infb_config_get(c, "data", "train"), "indented key under [data]");
  infb_config_free(c);
}

/* ------------------------------------------------------------------ variants and --set */

static void
test_variants(void)
{
  char msg[MSG];
  infb_config *c = load_good("good-variant.ini");
  ok(c != NULL, "good-variant.ini reads and resolves");
  if (!c) {
    for (int i = 0; i < 14; i++)
      skip("good-variant.ini did not load");
    return;
  }
  is_double_abs(100, infb_config_double(c, "map:strong", "lambda"), 0,
                "[map:strong] lambda is its own (100)");
  is_double_abs(2, infb_config_double(c, "map", "lambda"), 0, "[map] lambda stays 2");
  is_int(4, infb_config_int(c, "map:strong", "folds"),
         "[map:strong] folds falls back to [map] (4)");
  is_double_abs(1e-6, infb_config_double(c, "map:strong", "tol"), 0,
                "[map:strong] tol falls back to [map] (1e-6)");
  is_int(500, infb_config_int(c, "map:strong", "max_iter"),
         "[map:strong] max_iter falls back to the default (500)");
  is_int(19, infb_config_line(c, "map:strong", "lambda"), "line of [map:strong] lambda");
  is_int(15, infb_config_line(c, "map:strong", "folds"), "line of a fallback is the base's");
  char *const *est = infb_config_estimators(c);
  ok(est[0] && est[1] && est[2] && !est[3] && strcmp(est[2], "map:strong") == 0,
     "estimators include the variant map:strong");

  /* --set on a variant and on its base. */
  is_int(GSL_SUCCESS, infb_config_set(c, "map:strong.lambda=1000", msg, sizeof msg),
         "--set map:strong.lambda=1000 accepted");
  is_double_abs(1000, infb_config_double(c, "map:strong", "lambda"), 0,
                "--set overrides the variant's value");
  is_int(0, infb_config_line(c, "map:strong", "lambda"), "line of a --set value is 0");
  is_int(GSL_SUCCESS, infb_config_set(c, "map.folds = 7", msg, sizeof msg),
         "--set 'map.folds = 7' (blanks around = allowed)");
  is_int(7, infb_config_int(c, "map:strong", "folds"), "the variant sees the base's new value");
  is_double_abs(2, infb_config_double(c, "map", "lambda"), 0,
                "--set on the variant leaves [map] lambda");
  infb_config_free(c);
}

/* 190 characters. */
#define LONG10 "xxxxxxxxxx"
#define LONG190                                                                            \
  LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 \
      LONG10 LONG10 LONG10 LONG10 LONG10 LONG10

static void
test_set(void)
{
  char msg[MSG];
  infb_config *c = load_good("good-basic.ini");
  if (!c) {
    for (int i = 0; i < 42; i++)
      skip("good-basic.ini did not load");
    return;
  }
  is_int(GSL_SUCCESS, infb_config_set(c, "map.lambda=3", msg, sizeof msg),
         "--set map.lambda=3");
  is_double_abs(3, infb_config_double(c, "map", "lambda"), 0,
                "--set replaces the file's lambda");
  is_int(0, infb_config_line(c, "map", "lambda"), "after --set the line is 0");
  infb_config_set(c, "data.standardize=on", msg, sizeof msg);
  is_int(1, infb_config_bool(c, "data", "standardize"), "--set data.standardize=on gives yes");

  static const struct {
    const char *a, *msg;
  } bad[] = {
    {"map.lambda=1e", "--set map.lambda=1e: [map] lambda: '1e' is not a number"},
    {"foo", "--set foo: expected SECTION.KEY=VALUE"},
    {"map.lambda", "--set map.lambda: expected SECTION.KEY=VALUE"},
    {"lambda=2", "--set lambda=2: expected SECTION.KEY=VALUE"},
    {".lambda=2", "--set .lambda=2: expected SECTION.KEY=VALUE"},
    {"map.=2", "--set map.=2: expected SECTION.KEY=VALUE"},
    {"foo.bar=1", "--set foo.bar=1: unknown section [foo]"},
    {"map.lamda=1", "--set map.lamda=1: unknown key 'lamda' in [map]"},
    {"data:x.train=a", "--set data:x.train=a: section [data] takes no variants"},
    {"map:A.lambda=1",
     "--set map:A.lambda=1: bad variant name 'A' in [map:A] (use a-z, 0-9, _ and -)"},
    {"map:strong.lambda=-1",
     "--set map:strong.lambda=-1: [map:strong] lambda: -1 is out of range (must be > 0)"},
    {"experiment.threads=65", "--set experiment.threads=65: [experiment] threads: 65 is out of "
                              "range (must be in [1, 64])"},
    {"data.source=CSV",
     "--set data.source=CSV: [data] source: 'CSV' is not one of csv, synthetic, idx"},
    {"estimators.run=mle,foo", "--set estimators.run=mle,foo: [estimators] run: unknown "
                               "estimator 'foo' (known: mle, map, "
                               "bayes, laplace, meanfield, amortized, autoencoder)"},
    {"estimators.run=", "--set estimators.run=: [estimators] run: no estimator named"},
    {"experiment.name=..",
     "--set experiment.name=..: [experiment] name: '..' is not a usable name"},
    {"experiment.description=a\nb", "--set experiment.description=a\nb: [experiment] "
                                    "description: the value contains a line break"},
    /* Values the recorded config.ini could not give back (found by fuzz-config's check
     * that the canonical text reads back as itself). */
    {"experiment.description=a ;b",
     "--set experiment.description=a ;b: [experiment] description: 'a ;b' cannot be "
     "recorded: a ';' at the start of a word would begin a comment"},
    {"experiment.description=#1", "--set experiment.description=#1: [experiment] description: "
                                  "'#1' cannot be recorded: a '#' at the start of a word would "
                                  "begin a comment"},
    {"data.features=a,;b", "--set data.features=a,;b: [data] features: 'a, ;b' cannot be "
                           "recorded: a ';' at the start of a word would begin a comment"},
    {"experiment.description=" LONG190,
     "--set experiment.description=" LONG190 ": [experiment] description: the value is too "
     "long to be recorded (its line 'description = ...' would have 204 characters, at most "
     "198)"},
    {"map:" LONG190 LONG10 ".lambda=1",
     "--set map:" LONG190 LONG10 ".lambda=1: section name 'map:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' "
     "is too long to be recorded (at most 196 characters)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int st = infb_config_set(c, bad[i].a, msg, sizeof msg);
    char shown[256]; /* the assignment, with a line break shown as \n */
    size_t k = 0;
    for (const char *q = bad[i].a; *q && k + 3 < sizeof shown; q++) {
      if (*q == '\n') {
        shown[k++] = '\\';
        shown[k++] = 'n';
      } else
        shown[k++] = *q;
    }
    shown[k] = '\0';
    ok(st == INFB_ECONFIG && strcmp(msg, bad[i].msg) == 0,
       "--set %s: INFB_ECONFIG and the exact message", shown);
    if (strcmp(msg, bad[i].msg) != 0)
      diag("got: %s", msg);
  }
  is_double_abs(3, infb_config_double(c, "map", "lambda"), 0,
                "a rejected --set changes nothing");

  /* Whole-config rules see --set values, and point at them. */
  infb_config_set(c, "estimators.run=mle, laplace", msg, sizeof msg);
  is_int(INFB_ECONFIG, infb_config_resolve(c, msg, sizeof msg),
         "resolve with --set estimators.run=mle, laplace on linreg fails");
  is_string("--set estimators.run=mle, laplace: [estimators] run: estimator 'laplace' does not "
            "apply to model linreg",
            msg, "the message points at the --set");
  infb_config_set(c, "model.type=logreg", msg, sizeof msg);
  is_int(GSL_SUCCESS, infb_config_resolve(c, msg, sizeof msg),
         "after --set model.type=logreg, laplace applies");
  infb_config_set(c, "map:weak.lambda=5", msg, sizeof msg);
  infb_config_resolve(c, msg, sizeof msg);
  is_string("--set map:weak.lambda=5: section [map:weak] is not named in [estimators] run", msg,
            "a --set variant section not run is an error at the --set");
  infb_config_free(c);

  /* --set before the file wins over the file's value (no duplicate error). */
  c = infb_config_alloc();
  infb_config_set(c, "experiment.seed=9", msg, sizeof msg);
  is_int(GSL_SUCCESS, load(c, path_fixture("good-basic.ini"), msg),
         "--set before reading: the file still reads");
  is_int(9, infb_config_int(c, "experiment", "seed"), "--set given before the file wins");
  infb_config_free(c);

  /* A config of --set alone. */
  c = infb_config_alloc();
  is_int(INFB_ECONFIG, infb_config_resolve(c, msg, sizeof msg), "--set only, no seed: fails");
  is_string("--set: missing required key 'seed' in [experiment]", msg,
            "--set-only missing seed message");
  infb_config_set(c, "experiment.seed=1", msg, sizeof msg);
  is_int(INFB_ECONFIG, infb_config_resolve(c, msg, sizeof msg),
         "--set only, csv without train");
  is_string("--set: [data] train is required when source = csv", msg,
            "--set-only conditional requirement message");
  infb_config_set(c, "data.train=rel/train.csv", msg, sizeof msg);
  infb_config_set(c, "data.target=y", msg, sizeof msg);
  is_int(GSL_SUCCESS, infb_config_resolve(c, msg, sizeof msg), "--set only config resolves");
  is_string("experiment", infb_config_get(c, "experiment", "name"),
            "--set-only name defaults to \"experiment\"");
  char *p = infb_config_path(c, "data", "train");
  is_string("rel/train.csv", p, "without a file a relative path stays as written");
  free(p);
  ok(infb_config_path(c, "data", "test") == NULL, "path of an unset key is NULL");
  is_string("", infb_config_file(c), "config_file of a --set-only config is \"\"");
  infb_config_free(c);
}

/* ------------------------------------------------------------------ sweeps */

static void
test_sweeps(void)
{
  char msg[MSG];
  infb_config *c = infb_config_alloc();
  double *v = NULL;
  size_t n = 0;
  /* default alpha_path 1e-4..1e4/41: consecutive ratio 10^(8/40) = 10^0.2 */
  is_int(GSL_SUCCESS, infb_config_sweep(c, "bayes", "alpha_path", &v, &n),
         "default [bayes] alpha_path is a sweep");
  int ratios = n == 41;
  for (size_t i = 1; i < n; i++)
    ratios &= fabs(v[i] / v[i - 1] / pow(10.0, 0.2) - 1) < 1e-13;
  ok(ratios && v[0] == 1e-4 && v[40] == 1e4,
     "1e-4..1e4/41: 41 values, ratio 10^0.2, exact endpoints");
  free(v);

  infb_config_set(c, "map.lambda=0.5..2/2", msg, sizeof msg);
  infb_config_sweep(c, "map", "lambda", &v, &n);
  ok(n == 2 && v[0] == 0.5 && v[1] == 2, "0.5..2/2: exactly the two endpoints");
  free(v);
  infb_config_set(c, "map.lambda=0.5..2/3", msg, sizeof msg);
  infb_config_sweep(c, "map", "lambda", &v, &n);
  ok(n == 3 && fabs(v[1] - 1.0) < 1e-15, "0.5..2/3: the middle is the geometric mean 1");
  free(v);
  infb_config_set(c, "map.lambda=0.25", msg, sizeof msg);
  infb_config_sweep(c, "map", "lambda", &v, &n);
  ok(n == 1 && v[0] == 0.25, "a single value is a sweep of one");
  free(v);
  ok(isnan(infb_config_double(c, "bayes", "alpha_path")), "double accessor on a sweep is NAN");
  ok(infb_config_sweep(c, "data", "train", &v, &n) != GSL_SUCCESS && v == NULL,
     "sweep of an unset key fails");
  infb_config_free(c);
}

/* ------------------------------------------------------------------ canonical form */

static int
write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fputs(text, f);
  return fclose(f);
}

static void
test_canonical(void)
{
  char msg[MSG];
  infb_config *a = load_good("good-order-a.ini");
  infb_config *b = load_good("good-order-b.ini");
  if (!a || !b) {
    infb_config_free(a);
    infb_config_free(b);
    for (int i = 0; i < 15; i++)
      skip("good-order fixtures did not load");
    return;
  }
  char *ca = infb_config_canonical(a), *cb = infb_config_canonical(b);
  is_string(ca, cb,
            "order, spacing, comments, 1e0/1, true/yes, 1e-8/0.00000001: same canonical");
  char ha[INFB_SHA256_HEX], hb[INFB_SHA256_HEX], hx[INFB_SHA256_HEX];
  infb_config_hash(a, ha);
  infb_config_hash(b, hb);
  is_string(ha, hb, "... and the same hash");
  char *noexec0 = without_line(ca, "\nthreads = 1\n");
  char *noexec = noexec0 ? without_line(noexec0, "\ngroup_timeout = 600\n") : NULL;
  free(noexec0);
  infb_sha256_hex(noexec ? noexec : "", noexec ? strlen(noexec) : 0, hx);
  is_string(hx, ha,
            "the hash is the SHA-256 of the canonical text less the execution settings (threads, "
            "group_timeout)");
  infb_sha256_hex(ca, strlen(ca), hx);
  infb_config_hash_with_exec(a, hb);
  is_string(hx, hb, "hash_with_exec is the SHA-256 of the whole canonical text");
  free(noexec);
  {
    char *sets[] = {"experiment.threads=3"}, *psets[] = {"experiment.parts=3"};
    infb_config *t3 = infb_config_alloc(), *p3 = infb_config_alloc();
    char m1[MSG], m2[MSG], ht[INFB_SHA256_HEX] = "", hp[INFB_SHA256_HEX] = "";
    int lt = load_sets(t3, "good-order-a.ini", sets, 1, m1) == GSL_SUCCESS;
    int lp = load_sets(p3, "good-order-a.ini", psets, 1, m2) == GSL_SUCCESS;
    infb_config_hash(t3, ht);
    infb_config_hash(p3, hp);
    char *ct = lt ? infb_config_canonical(t3) : NULL;
    ok(lt && lp && strcmp(ht, ha) == 0 && ct && strstr(ct, "\nthreads = 3\n") &&
           strcmp(hp, ha) != 0,
       "threads = 3 keeps the hash (an execution setting, still in the canonical text); "
       "parts = 3 changes it");
    free(ct);
    infb_config_free(t3);
    infb_config_free(p3);
  }
  ok(strlen(ha) == 64 && strspn(ha, "0123456789abcdef") == 64,
     "hash is 64 lowercase hex digits");

  ok(strstr(ca, "\n[map]\n") && strstr(ca, "\nlambda = 1\n") &&
       strstr(ca, "\nstandardize = yes\n") && strstr(ca, "\nrun = mle, map\n"),
     "canonical values: lambda = 1, standardize = yes, run = mle, map");
  /* Shortest %g that reads back exactly: 1e-8 → "1e-08", 0.2 → "0.2" (not %.17g's
   * "0.20000000000000001"). */
  ok(strstr(ca, "\ntol = 1e-08\n") != NULL, "doubles printed in the shortest exact form (tol = 1e-08)");
  ok(strstr(ca, "\ntest_fraction = 0.2\n") != NULL, "defaults are included (test_fraction = 0.2)");
  ok(strstr(ca, "\ntest =") == NULL && strstr(ca, "\nfeatures =\n") != NULL,
     "unset key without default omitted; empty default written as 'features ='");
  ok(strncmp(ca, "[amortized]\n", 12) == 0 && strstr(ca, "[autoencoder]") < strstr(ca, "[bayes]") &&
       strstr(ca, "[data]") < strstr(ca, "[estimators]") &&
       strstr(ca, "[estimators]") < strstr(ca, "[experiment]") &&
       strstr(ca, "[meanfield]") < strstr(ca, "[mle]") &&
       strstr(ca, "[model]") < strstr(ca, "[plot]"),
     "sections sorted by name");
  const char *exp = strstr(ca, "[experiment]\n");
  static const char want_exp[] = "[experiment]\ndescription =\ngemm_block_cols = 32\n"
                                 "gemm_block_depth = 128\ngemm_blocking = auto\n"
                                 "group_timeout = 600\nname = order\n"
                                 "parallel = split\nparts = 2\nseed = 5\nthreads = 1\n";
  ok(exp && strncmp(exp, want_exp, sizeof want_exp - 1) == 0,
     "keys sorted by name within [experiment]");

  /* Changing any one value changes the hash; respelling a value does not. */
  static const char *changes[] = {
    "map.lambda=2",           "data.standardize=no", "experiment.seed=6",
    "plot.grid=201",          "data.features=x1",    "experiment.description=x",
    "map.lambda=1e-4..1e2/7", "model.intercept=no",  "data.train=other.csv",
    "bayes.alpha=3",
  };
  int changed = 0, total = 0;
  for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
    infb_config *c = load_good("good-order-a.ini");
    if (!c)
      continue;
    if (infb_config_set(c, changes[i], msg, sizeof msg) != GSL_SUCCESS)
      diag("%s", msg);
    char h[INFB_SHA256_HEX];
    infb_config_hash(c, h);
    changed += strcmp(h, ha) != 0;
    total++;
    infb_config_free(c);
  }
  is_int(total, changed, "each of %d single-value changes changes the hash", total);
  infb_config *c = load_good("good-order-a.ini");
  infb_config_set(c, "map.lambda=1.0", msg, sizeof msg);
  infb_config_set(c, "map.tol=10e-9", msg, sizeof msg);
  infb_config_set(c, "plot.grid=+200", msg, sizeof msg);
  infb_config_set(c, "data.standardize=ON", msg, sizeof msg);
  infb_config_hash(c, hx);
  is_string(ha, hx, "respelling values (1.0, 10e-9, +200, ON) keeps the hash");
  infb_config_set(c, "map.lambda=1e-4..1e2/7", msg, sizeof msg);
  infb_config_hash(c, ha);
  infb_config_set(c, "map.lambda=0.0001 .. 100/7", msg, sizeof msg);
  infb_config_hash(c, hb);
  is_string(ha, hb, "sweep 1e-4..1e2/7 and '0.0001 .. 100/7' hash alike");
  infb_config_free(c);

  /* The canonical text is itself a configuration with the same canonical text. */
  char tmp[4096];
  const char *dir = getenv("TMPDIR");
  snprintf(tmp, sizeof tmp, "%s/config-t-%ld.ini", dir && *dir ? dir : "/tmp", (long)getpid());
  int wrote = write_file(tmp, ca) == 0;
  infb_config *r = infb_config_alloc();
  int st = wrote ? load(r, tmp, msg) : -1;
  char *cr = st == GSL_SUCCESS ? infb_config_canonical(r) : NULL;
  is_string(ca, cr, "re-reading the canonical text gives the same canonical text");
  free(cr);
  infb_config_free(r);
  if (wrote)
    remove(tmp);

  /* Variant sections appear with all their keys. */
  infb_config *v = load_good("good-variant.ini");
  char *cv = v ? infb_config_canonical(v) : NULL;
  const char *strong = cv ? strstr(cv, "[map:strong]\n") : NULL;
  ok(strong && strstr(cv, "[map]\n") < strong && strstr(strong, "[meanfield]") &&
       strstr(strong, "folds = 4\n") < strstr(strong, "[meanfield]") &&
       strstr(strong, "lambda = 100\n") < strstr(strong, "[meanfield]"),
     "[map:strong] follows [map] with fallback keys (folds = 4) and its own lambda = 100");
  free(cv);
  infb_config_free(v);

  free(ca);
  free(cb);
  infb_config_free(a);
  infb_config_free(b);
}

/* A run's recorded configuration read back by a newer infbench (infb_config_set_recorded):
 * the recording one did not know a key (here: [plot] grid, dropped from the canonical
 * text), so its hash was that of the text without it.  Marked as recorded, the file
 * hashes as recorded and the key takes its default; unmarked, it hashes as a full
 * resolution; an edited value or a removed line still changes the hash. */
static void
test_recorded(void)
{
  char msg[MSG];
  infb_config *a = load_good("good-order-a.ini");
  char *ca = a ? infb_config_canonical(a) : NULL;
  char *line = ca ? strstr(ca, "\ngrid = 200\n") : NULL;
  if (!line) {
    for (int i = 0; i < 4; i++)
      skip("good-order-a.ini did not load with plot.grid = 200");
    free(ca);
    infb_config_free(a);
    return;
  }
  memmove(line + 1, line + strlen("\ngrid = 200\n"), strlen(line + strlen("\ngrid = 200\n")) + 1);
  char old[INFB_SHA256_HEX], full[INFB_SHA256_HEX], h[INFB_SHA256_HEX];
  char *hashed0 = without_line(ca, "\nthreads = 1\n"); /* the hash leaves threads out */
  char *hashed = hashed0 ? without_line(hashed0, "\ngroup_timeout = 600\n") : NULL; /* ... */
  free(hashed0);
  infb_sha256_hex(hashed ? hashed : "", hashed ? strlen(hashed) : 0, old); /* the recording's */
  free(hashed);
  infb_config_hash(a, full);
  char tmp[4096];
  const char *dir = getenv("TMPDIR");
  snprintf(tmp, sizeof tmp, "%s/config-t-rec-%ld.ini", dir && *dir ? dir : "/tmp", (long)getpid());
  int wrote = write_file(tmp, ca) == 0;
  infb_config *r = infb_config_alloc();
  int st = wrote ? load(r, tmp, msg) : -1;
  infb_config_hash(r, h);
  ok(st == GSL_SUCCESS && strcmp(h, full) == 0 && strcmp(h, old) != 0,
     "unmarked, the file without [plot] grid hashes as the full resolution");
  infb_config_set_recorded(r);
  infb_config_hash(r, h);
  is_string(old, h, "marked as recorded, it hashes as the recording infbench did");
  ok(infb_config_int(r, "plot", "grid") == 200, "... and the unknown key takes its default");
  infb_config_free(r);
  /* An edited value, and a removed line, in the recorded file. */
  int differ = 1;
  for (int k = 0; k < 2; k++) {
    char *edited = infb_strdup(ca);
    char *at = edited ? strstr(edited, "\nlambda = 1\n") : NULL;
    if (!at) {
      differ = 0;
      free(edited);
      break;
    }
    if (k == 0)
      at[strlen("\nlambda = ")] = '2';
    else
      memmove(at + 1, at + strlen("\nlambda = 1\n"), strlen(at + strlen("\nlambda = 1\n")) + 1);
    r = infb_config_alloc();
    st = write_file(tmp, edited) == 0 ? load(r, tmp, msg) : -1;
    infb_config_set_recorded(r);
    infb_config_hash(r, h);
    differ &= st == GSL_SUCCESS && strcmp(h, old) != 0;
    infb_config_free(r);
    free(edited);
  }
  ok(differ, "marked as recorded, an edited value or a removed line changes the hash");
  if (wrote)
    remove(tmp);
  free(ca);
  infb_config_free(a);
}

/* ------------------------------------------------------------------ the size limit */

/* A valid config padded with comment lines to exactly len bytes (len ≥ its length + 2);
 * malloc'd, NUL-terminated. */
static char *
padded_config(size_t len)
{
  static const char head[] = "[experiment]\nseed = 5\n[data]\nsource = synthetic\n"
                             "[model]\ntype = linreg\n[estimators]\nrun = mle\n";
  char *t = malloc(len + 1);
  size_t n = strlen(head);
  memcpy(t, head, n);
  while (n < len) {
    size_t line = len - n < 101 ? len - n : 101; /* "#xxx...x\n", at most 101 bytes */
    t[n] = '#';
    memset(t + n + 1, 'x', line - 1);
    t[n + line - 1] = '\n';
    n += line;
  }
  t[len] = '\0';
  return t;
}

/* A file of INFB_CONFIG_MAX_BYTES reads; one byte more, or an endless file, is refused
 * with the file named (infbench check /dev/zero once doubled its buffer until memory ran
 * out). */
static void
test_size(void)
{
  char msg[MSG], want[MSG], tmp[4096];
  const char *dir = getenv("TMPDIR");
  snprintf(tmp, sizeof tmp, "%s/config-t-size-%ld.ini", dir && *dir ? dir : "/tmp",
           (long)getpid());
  is_int(1048576, (long long)INFB_CONFIG_MAX_BYTES, "the limit is 1 MiB");

  char *t = padded_config(INFB_CONFIG_MAX_BYTES);
  infb_config *c = infb_config_alloc();
  int st = write_file(tmp, t) == 0 ? load(c, tmp, msg) : -1;
  ok(st == GSL_SUCCESS && infb_config_int(c, "experiment", "seed") == 5,
     "a file of exactly 1048576 bytes reads and resolves (%s)", msg);
  infb_config_free(c);
  free(t);

  snprintf(want, sizeof want,
           "%s: is larger than 1 MiB (1048576 bytes), the most a configuration file may hold",
           tmp);
  t = padded_config(INFB_CONFIG_MAX_BYTES + 1);
  c = infb_config_alloc();
  st = write_file(tmp, t) == 0 ? load(c, tmp, msg) : -1;
  is_int(INFB_ECONFIG, st, "a file of 1048577 bytes is refused with INFB_ECONFIG");
  is_string(want, msg, "a file of 1048577 bytes: the message");
  infb_config_free(c);
  remove(tmp);

  c = infb_config_alloc();
  st = infb_config_read_text(c, "mem.ini", t, INFB_CONFIG_MAX_BYTES + 1, msg, sizeof msg);
  is_int(INFB_ECONFIG, st, "read_text: 1048577 bytes are refused with INFB_ECONFIG");
  is_string("mem.ini: is larger than 1 MiB (1048576 bytes), the most a configuration file may "
            "hold", msg, "read_text: the message names the given path");
  infb_config_free(c);
  c = infb_config_alloc();
  msg[0] = '\0';
  st = infb_config_read_text(c, "sub/mem.ini", t, 300, msg, sizeof msg);
  if (!st)
    st = infb_config_resolve(c, msg, sizeof msg);
  ok(st == GSL_SUCCESS && infb_config_int(c, "experiment", "seed") == 5 &&
         strcmp(infb_config_file(c), "sub/mem.ini") == 0,
     "read_text: the first 300 bytes read and resolve, as file sub/mem.ini (%s)", msg);
  infb_config_free(c);
  c = infb_config_alloc();
  st = infb_config_read_text(c, "nul.ini", "[experiment]\nseed = 1\0\n", 23, msg, sizeof msg);
  is_string("nul.ini:2: line contains a NUL byte", msg, "read_text: a NUL byte is an error");
  infb_config_free(c);
  free(t);

  if (access("/dev/zero", R_OK) == 0) {
    c = infb_config_alloc();
    st = load(c, "/dev/zero", msg);
    is_string("/dev/zero: is larger than 1 MiB (1048576 bytes), the most a configuration file "
              "may hold", msg, "/dev/zero is refused after 1 MiB");
    infb_config_free(c);
  } else {
    skip("no /dev/zero");
  }
}

int
main(void)
{
  load_messages();
  /* table, fixtures, basic, syntax, variants, set, sweeps, canonical, recorded, size,
   * free(NULL) */
  plan(11 + (2 * (int)nfixtures + 7) + 25 + 8 + 17 + 42 + 7 + 15 + 4 + 9 + 1);

  test_table();
  test_fixtures();
  test_basic();
  test_syntax();
  test_variants();
  test_set();
  test_sweeps();
  test_canonical();
  test_recorded();
  test_size();

  infb_config_free(NULL);
  ok(1, "infb_config_free(NULL) is a no-op");
  return test_done();
}
