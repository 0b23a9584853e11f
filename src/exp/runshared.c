/* Pieces shared by the supervised and latent runners (see runshared.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/runshared.h"
#include "core/atomicfile.h"
#include "core/error.h"
#include "core/strparse.h"
#include "exp/keys.h"
#include "exp/results.h"
#include "linalg/blas.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The subdirectory of a run directory holding the stage records. */
#define STAGES_DIR "stages"

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
  json_object_set_new(root, "program",
                      infb_results_program(infb_config_int(cfg, "experiment", "threads")));
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

/* Create the missing parent directories of path (as mkdir -p on its dirname).  A
 * leading '/' is the root, not a parent to create. */
static int
make_parents(const char *path)
{
  char *p = infb_strdup(path);
  if (!p)
    return GSL_ENOMEM;
  for (char *s = p; *s; s++) {
    if (*s != '/' || s == p)
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

/* A new run in an existing directory: remove the old run's results.json and stage
 * records (missing ones are fine). */
static int
clear_records(const char *dir)
{
  char *json = infb_path_join(dir, "results.json");
  char *stages = infb_path_join(dir, STAGES_DIR);
  int st = json && stages ? GSL_SUCCESS : GSL_ENOMEM;
  if (!st && remove(json) != 0 && errno != ENOENT)
    st = INFB_ERROR(GSL_EFAILED, "cannot remove %s: %s", json, strerror(errno));
  DIR *d = st ? NULL : opendir(stages);
  if (!st && !d && errno != ENOENT)
    st = INFB_ERROR(GSL_EFAILED, "cannot read %s: %s", stages, strerror(errno));
  for (struct dirent *de; !st && d && (de = readdir(d)) != NULL;) {
    size_t len = strlen(de->d_name);
    if (len < 5 || strcmp(de->d_name + len - 5, ".json") != 0)
      continue;
    char *f = infb_path_join(stages, de->d_name);
    if (!f)
      st = GSL_ENOMEM;
    else if (remove(f) != 0 && errno != ENOENT)
      st = INFB_ERROR(GSL_EFAILED, "cannot remove %s: %s", f, strerror(errno));
    free(f);
  }
  if (d)
    closedir(d);
  free(json);
  free(stages);
  return st;
}

/* Nonzero when name is a temporary of core/atomicfile.c: NAME.tmp.PID. */
static int
is_temporary(const char *name)
{
  size_t len = strlen(name), k = len;
  while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9')
    k--;
  return k < len && k > 5 && strncmp(name + k - 5, ".tmp.", 5) == 0;
}

/* Remove the temporaries a killed session left in dir (missing dir: nothing to do). */
static int
remove_temporaries(const char *dir)
{
  DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT ? GSL_SUCCESS
                           : INFB_ERROR(GSL_EFAILED, "cannot read %s: %s", dir, strerror(errno));
  int st = GSL_SUCCESS;
  for (struct dirent *de; !st && (de = readdir(d)) != NULL;) {
    if (!is_temporary(de->d_name))
      continue;
    char *f = infb_path_join(dir, de->d_name);
    if (!f)
      st = GSL_ENOMEM;
    else if (remove(f) != 0 && errno != ENOENT)
      st = INFB_ERROR(GSL_EFAILED, "cannot remove %s: %s", f, strerror(errno));
    free(f);
  }
  closedir(d);
  return st;
}

int
infb_run_make_dir(const infb_config *cfg, const infb_run_options *opt, char **dirp)
{
  char *dir;
  *dirp = NULL;
  if (opt->outdir && opt->outdir[0] == '\0')
    return INFB_ERROR(INFB_ECONFIG, "the run directory's name is empty");
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
    else if (!opt->force && !opt->resume)
      st = INFB_ERROR(INFB_ECONFIG, "%s exists; use --force to reuse it or -o DIR", dir);
    else if (!opt->resume)
      st = clear_records(dir);
    /* A session killed while writing left its temporaries (NAME.tmp.PID): remove them. */
    char *stages = st ? NULL : infb_path_join(dir, STAGES_DIR);
    if (!st && !stages)
      st = GSL_ENOMEM;
    if (!st)
      st = remove_temporaries(dir);
    if (!st)
      st = remove_temporaries(stages);
    free(stages);
    if (st) {
      free(dir);
      return st;
    }
  }
  *dirp = dir;
  return GSL_SUCCESS;
}

/* Nonzero when paths a and b name the same existing file. */
static int
same_file(const char *a, const char *b)
{
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

/* The absolute directory of file (its relative paths' base); NULL when it cannot be
 * resolved. */
static char *
base_dir(const char *file)
{
  char *dir = infb_strdup(file);
  if (!dir)
    return NULL;
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    slash[1] = '\0'; /* "/x.ini" */
  else if (slash)
    *slash = '\0';
  char *abs = realpath(slash ? dir : ".", NULL);
  free(dir);
  return abs;
}

int
infb_run_write_config(const infb_config *cfg, const char *dir)
{
  char hex[INFB_SHA256_HEX];
  char *path = infb_path_join(dir, "config.ini");
  if (path && same_file(infb_config_file(cfg), path)) {
    /* Resuming from this record: keep it as it is, unless the run is being extended
     * (--resume DIR --set ...: the record's hash is no longer cfg's). */
    infb_run_dir_info info;
    memset(&info, 0, sizeof info);
    char mine[INFB_SHA256_HEX], old[INFB_SHA256_HEX];
    int keep = infb_run_dir_inspect(dir, &info) != GSL_SUCCESS ||
               infb_config_hash(cfg, mine) != GSL_SUCCESS ||
               infb_config_hash_with_exec(cfg, old) != GSL_SUCCESS ||
               strcmp(mine, info.hash) == 0 || strcmp(old, info.hash) == 0;
    infb_run_dir_info_free(&info);
    if (keep) {
      free(path);
      return GSL_SUCCESS;
    }
  }
  char *canon = infb_config_canonical(cfg);
  if (!path || !canon || infb_config_hash(cfg, hex)) {
    free(path);
    free(canon);
    return GSL_ENOMEM;
  }
  char *base = base_dir(infb_config_file(cfg));
  infb_afile *af = infb_afile_open(path);
  free(path);
  if (!af) {
    free(base);
    free(canon);
    return GSL_EFAILED;
  }
  fprintf(af->fp,
          "# infbench resolved configuration (every default filled in, canonical form)\n"
          "# sha256: %s\n# program: %s\n# threads: %d\n# seed: %ld\n# source: %s\n",
          hex, infb_results_program_line(), (int)infb_config_int(cfg, "experiment", "threads"),
          infb_config_int(cfg, "experiment", "seed"), infb_config_file(cfg));
  if (base)
    fprintf(af->fp, "# base: %s\n", base);
  fprintf(af->fp, "\n%s", canon);
  free(base);
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
infb_run_step_error(int st, int *write_failed, const char *fmt, ...)
{
  if (st == GSL_SUCCESS || st == INFB_EINTR)
    return st;
  if (st == GSL_EFAILED && write_failed)
    *write_failed = 1;
  char step[256], msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(step, sizeof step, fmt, ap);
  va_end(ap);
  snprintf(msg, sizeof msg, "%s", *infb_error_message() ? infb_error_message() : infb_strerror(st));
  return infb_error(st, __FILE__, __LINE__, "%s: %s", step, msg);
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

/* ------------------------------------------------------------------ resuming a run */

void
infb_run_root_recorded(json_t *root, const infb_run_options *opt)
{
  json_t *c = json_object_get(root, "config");
  if (!c)
    return;
  if (opt->recorded_hash && !opt->recorded_cfg) /* extended: the new config's own hash */
    json_object_set_new(c, "hash", json_string(opt->recorded_hash));
  if (opt->recorded_file)
    json_object_set_new(c, "file", json_string(opt->recorded_file));
}

static const char *const stage_names[] = {"all",     "train",    "evaluate-train",
                                          "evaluate-test", "ais-train", "ais-test", "bdmc"};

const char *
infb_run_stage_name(int stage)
{
  if (stage < 0 || stage > INFB_STAGE_BDMC)
    return "?";
  return stage_names[stage];
}

/* ------------------------------------------------------------------ stage scopes */

static int
is_section(const char *section, const char *name)
{
  return strcmp(section, name) == 0;
}

/* Training reads the data, model, estimator, encoder and training keys. */
static int
keep_train(const char *sec, const char *key)
{
  (void)key;
  return !is_section(sec, "evaluate") && !is_section(sec, "qstar") && !is_section(sec, "ais") &&
         !is_section(sec, "bdmc") && !is_section(sec, "plot");
}

/* The gap report reads what training read, [evaluate] and [qstar]. */
static int
keep_evaluate(const char *sec, const char *key)
{
  (void)key;
  return !is_section(sec, "ais") && !is_section(sec, "bdmc") && !is_section(sec, "plot");
}

/* AIS reads what training read, [ais] and which points are evaluated. */
static int
keep_ais(const char *sec, const char *key)
{
  if (is_section(sec, "evaluate"))
    return strcmp(key, "points") == 0 || strcmp(key, "split") == 0;
  return keep_train(sec, key) || is_section(sec, "ais");
}

/* BDMC reads what training read, [bdmc] and [ais]'s chain settings. */
static int
keep_bdmc(const char *sec, const char *key)
{
  if (is_section(sec, "ais"))
    return strcmp(key, "points") != 0 && strcmp(key, "trace_points") != 0 &&
           strcmp(key, "trace_rows") != 0 && strcmp(key, "temperatures") != 0 &&
           strcmp(key, "run") != 0;
  return keep_train(sec, key) || is_section(sec, "bdmc");
}

int
infb_run_stage_hashes(const infb_config *cfg, const infb_run_options *opt, int stage,
                      char hash[INFB_SHA256_HEX], char legacy[INFB_SHA256_HEX])
{
  infb_config_keep_fn keep = stage == INFB_STAGE_TRAIN                ? keep_train
                             : stage == INFB_STAGE_EVALUATE_TRAIN ||
                                     stage == INFB_STAGE_EVALUATE_TEST ? keep_evaluate
                             : stage == INFB_STAGE_BDMC               ? keep_bdmc
                                                                      : keep_ais;
  legacy[0] = '\0';
  int st = infb_config_hash_scope(cfg, keep, hash);
  if (st || !opt->recorded_hash)
    return st;
  /* Records made before stages had scopes hold the whole recorded config's hash: good
   * while the keys this stage reads are those the run recorded. */
  char then[INFB_SHA256_HEX];
  const infb_config *rec = opt->recorded_cfg ? opt->recorded_cfg : cfg;
  if ((st = infb_config_hash_scope(rec, keep, then)))
    return st;
  if (strcmp(then, hash) == 0)
    snprintf(legacy, INFB_SHA256_HEX, "%s", opt->recorded_hash);
  return GSL_SUCCESS;
}

int
infb_run_stage_parse(const char *name)
{
  for (int k = 0; k <= INFB_STAGE_BDMC; k++)
    if (strcmp(name, stage_names[k]) == 0)
      return k;
  return -1;
}

void
infb_run_dir_info_free(infb_run_dir_info *info)
{
  if (!info)
    return;
  free(info->source);
  free(info->base);
  info->source = info->base = NULL;
}

/* The value of a header line "# KEY: value" (newline stripped) as a new string, or NULL
 * when line is not that key's. */
static char *
header_value(const char *line, const char *key)
{
  size_t k = strlen(key);
  if (strncmp(line, "# ", 2) != 0 || strncmp(line + 2, key, k) != 0 || line[2 + k] != ':' ||
      line[3 + k] != ' ')
    return NULL;
  char *v = infb_strdup(line + 4 + k);
  if (v)
    v[strcspn(v, "\r\n")] = '\0';
  return v;
}

int
infb_run_dir_inspect(const char *dir, infb_run_dir_info *info)
{
  memset(info, 0, sizeof *info);
  struct stat sb;
  if (stat(dir, &sb) != 0)
    return INFB_ERROR(INFB_ECONFIG, "%s: %s", dir, strerror(errno));
  if (!S_ISDIR(sb.st_mode))
    return INFB_ERROR(INFB_ECONFIG, "%s is not a directory", dir);
  char *path = infb_path_join(dir, "config.ini");
  if (!path)
    return GSL_ENOMEM;
  FILE *fp = fopen(path, "r");
  if (!fp) {
    int e = errno;
    free(path);
    if (e == ENOENT)
      return INFB_ERROR(INFB_ECONFIG, "%s holds no infbench run (no config.ini)", dir);
    return INFB_ERROR(INFB_ECONFIG, "%s/config.ini: %s", dir, strerror(e));
  }
  char line[PATH_MAX + 64];
  int have_hash = 0;
  while (fgets(line, sizeof line, fp) && line[0] == '#') {
    char *v = header_value(line, "sha256");
    if (v) {
      have_hash = strlen(v) == INFB_SHA256_HEX - 1;
      snprintf(info->hash, sizeof info->hash, "%s", v);
      free(v);
    } else if ((v = header_value(line, "source")) != NULL) {
      free(info->source);
      info->source = v;
    } else if ((v = header_value(line, "base")) != NULL) {
      free(info->base);
      info->base = v;
    }
  }
  fclose(fp);
  if (!have_hash) {
    infb_run_dir_info_free(info);
    int st = INFB_ERROR(INFB_ECONFIG,
                        "%s has no '# sha256:' line: it was not written by infbench run", path);
    free(path);
    return st;
  }
  free(path);
  /* Finished: a results.json that is neither interrupted nor stopped early, and where no
   * estimator failed (a failure, e.g. a full disk, may go better on a second try). */
  char *json = infb_path_join(dir, "results.json");
  if (!json) {
    infb_run_dir_info_free(info);
    return GSL_ENOMEM;
  }
  json_t *root = json_load_file(json, 0, NULL);
  free(json);
  if (root) {
    json_t *stopped = json_object_get(root, "stopped_after");
    info->finished = json_is_false(json_object_get(root, "interrupted")) &&
                     (!stopped || json_is_null(stopped));
    const char *name;
    json_t *est;
    json_object_foreach(json_object_get(root, "estimators"), name, est) {
      const char *status = json_string_value(json_object_get(est, "status"));
      if (!status || strcmp(status, "ok") != 0)
        info->finished = 0;
    }
    json_decref(root);
  }
  return GSL_SUCCESS;
}

int
infb_run_rebase_paths(const infb_config *cfg, const char *base, char ***setsp, size_t *np)
{
  *setsp = NULL;
  *np = 0;
  char *canon = infb_config_canonical(cfg);
  char **sets = infb_calloc(1, sizeof *sets);
  if (!canon || !sets) {
    free(canon);
    free(sets);
    return GSL_ENOMEM;
  }
  size_t n = 0;
  char section[256] = ""; /* a section's name fits a config line (198 characters) */
  int st = GSL_SUCCESS;
  for (char *line = canon, *next; !st && line && *line; line = next) {
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    if (line[0] == '[') {
      snprintf(section, sizeof section, "%.*s", (int)strcspn(line + 1, "]"), line + 1);
      continue;
    }
    char *eq = strstr(line, " = ");
    if (!eq)
      continue;
    *eq = '\0';
    const char *key = line, *value = eq + 3;
    const infb_key *k = infb_key_find(section, key);
    if (!k || k->type != INFB_KEY_PATH || value[0] == '\0' || value[0] == '/')
      continue;
    size_t len = strlen(section) + strlen(key) + strlen(base) + strlen(value) + 4;
    char **grown = realloc(sets, (n + 2) * sizeof *sets);
    char *a = infb_malloc(len, 1);
    if (grown)
      sets = grown;
    if (!grown || !a) {
      free(a);
      st = GSL_ENOMEM;
      break;
    }
    snprintf(a, len, "%s.%s=%s/%s", section, key, base, value);
    sets[n++] = a;
    sets[n] = NULL;
  }
  free(canon);
  if (st) {
    infb_strlist_free(sets);
    return st;
  }
  *setsp = sets;
  *np = n;
  return GSL_SUCCESS;
}

/* DIR/stages/STEM.STAGE.json (new string), or NULL on ENOMEM. */
static char *
stage_path(const char *dir, const char *stem, int stage)
{
  size_t len = strlen(dir) + strlen(stem) + 64;
  char *p = infb_malloc(len, 1);
  if (p)
    snprintf(p, len, "%s/%s/%s.%s.json", dir, STAGES_DIR, stem, infb_run_stage_name(stage));
  return p;
}

int
infb_run_stage_save(const char *dir, const char *stem, int stage, const char *hash, int done,
                    const json_t *result)
{
  char *sub = infb_path_join(dir, STAGES_DIR);
  char *path = stage_path(dir, stem, stage);
  json_t *rec = json_pack("{s:s, s:s, s:s, s:b, s:O}", "estimator", stem, "stage",
                          infb_run_stage_name(stage), "config_hash", hash, "done", done,
                          "result", result);
  int st = sub && path && rec ? GSL_SUCCESS : GSL_ENOMEM;
  if (!st && mkdir(sub, 0777) != 0 && errno != EEXIST)
    st = INFB_ERROR(GSL_EFAILED, "cannot create %s: %s", sub, strerror(errno));
  /* Compact (the training record is rewritten every epoch); doubles round-trip. */
  char *text = st ? NULL
                  : json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
  if (!st && !text)
    st = INFB_ERROR(GSL_ENOMEM, "cannot serialise %s", path);
  if (!st)
    st = infb_write_file_atomic(path, text, strlen(text));
  free(text);
  json_decref(rec);
  free(sub);
  free(path);
  return st;
}

int
infb_run_stage_load(const char *dir, const char *stem, int stage, const char *hash,
                    const char *legacy, json_t **result, int *done)
{
  *result = NULL;
  *done = 0;
  char *path = stage_path(dir, stem, stage);
  if (!path)
    return GSL_ENOMEM;
  if (access(path, F_OK) != 0) {
    free(path);
    return GSL_SUCCESS;
  }
  json_error_t err;
  json_t *rec = json_load_file(path, 0, &err);
  int st = GSL_SUCCESS;
  const char *h = json_string_value(json_object_get(rec, "config_hash"));
  json_t *res = json_object_get(rec, "result");
  if (!rec)
    st = INFB_ERROR(INFB_EDATA, "stage record %s: %s (line %d)", path, err.text, err.line);
  else if (!h || !json_is_object(res))
    st = INFB_ERROR(INFB_EDATA, "stage record %s: not a stage record", path);
  else if (strcmp(h, hash) != 0 && !(legacy && *legacy && strcmp(h, legacy) == 0))
    st = INFB_ERROR(INFB_EDATA,
                    "stage record %s is of another configuration (sha256 %.12s, the keys its "
                    "stage reads now give %.12s): a setting that stage used has changed",
                    path, h, hash);
  if (!st) {
    *result = json_incref(res);
    *done = json_is_true(json_object_get(rec, "done"));
    /* A record taken by the recorded whole-config hash now carries its stage's own, so
     * that the run, once extended, still finds it. */
    if (strcmp(h, hash) != 0)
      st = infb_run_stage_save(dir, stem, stage, hash, *done, res);
  }
  json_decref(rec);
  free(path);
  return st;
}

int
infb_run_extend_check(const infb_config *cfg, const infb_run_options *opt, const char *dir)
{
  if (!opt->recorded_cfg)
    return GSL_SUCCESS;
  char *sub = infb_path_join(dir, STAGES_DIR);
  if (!sub)
    return GSL_ENOMEM;
  DIR *d = opendir(sub);
  int st = GSL_SUCCESS;
  struct dirent *de;
  while (d && !st && (de = readdir(d))) {
    const char *name = de->d_name, *dot1 = strchr(name, '.');
    size_t len = strlen(name);
    if (!dot1 || len < 6 || strcmp(name + len - 5, ".json") != 0)
      continue;
    char stage_name[32];
    snprintf(stage_name, sizeof stage_name, "%.*s", (int)(len - 5 - (size_t)(dot1 + 1 - name)),
             dot1 + 1);
    int stage = infb_run_stage_parse(stage_name);
    if (stage <= 0)
      continue;
    char *path = infb_path_join(sub, name);
    json_t *rec = path ? json_load_file(path, 0, NULL) : NULL;
    const char *h = json_string_value(json_object_get(rec, "config_hash"));
    char hash[INFB_SHA256_HEX], legacy[INFB_SHA256_HEX];
    if (!path)
      st = GSL_ENOMEM;
    else if (h && !(st = infb_run_stage_hashes(cfg, opt, stage, hash, legacy)) &&
             strcmp(h, hash) != 0 && strcmp(h, legacy) != 0)
      st = INFB_ERROR(INFB_ECONFIG,
                      "--set: the recorded stage %s (%s) read a setting that would change; "
                      "extend a run only with settings its recorded stages did not read, or "
                      "start a new run",
                      stage_name, path);
    json_decref(rec);
    free(path);
  }
  if (d)
    closedir(d);
  free(sub);
  return st;
}
