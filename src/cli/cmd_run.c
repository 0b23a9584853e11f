/* infbench run: run an experiment (or resume an interrupted one), print the comparison
 * table, optionally render plots. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/strparse.h"
#include "exp/config.h"
#include "exp/results.h"
#include "exp/runner.h"
#include "exp/runshared.h"
#include "par/par.h"
#include "par/sched.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;

static const char *
env_get(const char *name)
{
  return getenv(name);
}

static void
on_signal(int sig)
{
  got_signal = sig;
}

/* The progress display on a terminal: a line per stage; for counted stages a bar with
 * the rate and the time left, redrawn at most PROGRESS_HZ times a second. */
#define PROGRESS_HZ 5.0
#define PROGRESS_WIDTH 24
/* Terminal width when the terminal does not say. */
#define PROGRESS_COLUMNS 80

typedef struct progress_state {
  double start;      /* when the current counted stage began */
  double last;       /* last redraw */
  size_t total;      /* the current counted stage's total (0: none) */
  size_t first;      /* its done count when it began (a resumed stage starts above 0) */
  size_t done;       /* the last done count seen */
  int open;          /* a bar line is on screen without its newline */
} progress_state;

/* Columns of the terminal on stderr. */
static int
term_columns(void)
{
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return PROGRESS_COLUMNS;
}

static void
show_progress(void *ctx, const char *what, size_t done, size_t total)
{
  progress_state *p = ctx;
  double now = infb_clock_seconds();
  if (total == 0) {
    if (p->open)
      fputc('\n', stderr);
    p->open = 0;
    p->total = 0;
    fprintf(stderr, "infbench: %s\n", what);
    return;
  }
  if (p->total != total || done == 0 || done < p->done) { /* a new counted stage */
    p->start = now;
    p->total = total;
    p->first = done;
    p->last = 0.0;
  }
  p->done = done;
  if (done > p->first && done < total && now - p->last < 1.0 / PROGRESS_HZ)
    return;
  p->last = now;
  double frac = (double)done / (double)total, el = now - p->start;
  double rate = el > 0 ? (double)(done - p->first) / el : 0.0;
  double left = rate > 0 ? (double)(total - done) / rate : 0.0;
  char bar[PROGRESS_WIDTH + 1];
  size_t filled = (size_t)(frac * PROGRESS_WIDTH + 0.5);
  for (size_t i = 0; i < PROGRESS_WIDTH; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[PROGRESS_WIDTH] = '\0';
  char eta[32];
  long s = (long)(left + 0.5);
  if (rate <= 0)
    snprintf(eta, sizeof eta, "--:-- left");
  else if (s >= 3600)
    snprintf(eta, sizeof eta, "%ld:%02ld:%02ld left", s / 3600, s / 60 % 60, s % 60);
  else
    snprintf(eta, sizeof eta, "%02ld:%02ld left", s / 60, s % 60);
  char stats[128];
  int slen = snprintf(stats, sizeof stats, "[%s] %3.0f%% %.3g/s, %s", bar, 100.0 * frac, rate,
                      eta);
  /* Never wrap (\r must return to the bar's own line): the description gives way. */
  int room = term_columns() - 1 - slen - 2;
  fprintf(stderr, "\r\033[K%s  %.*s", stats, room > 0 ? room : 0, what);
  p->open = 1;
  if (done >= total) {
    fputc('\n', stderr);
    p->open = 0;
  }
  fflush(stderr);
}

/* Progress as whole lines, for a log rather than a terminal (under a launcher, whose
 * output is a job's log file): a line per stage, and for counted stages a line at most
 * every PROGRESS_LOG_SECONDS (and at the end) with the count, the rate and the time left. */
#define PROGRESS_LOG_SECONDS 30.0

static void
log_progress(void *ctx, const char *what, size_t done, size_t total)
{
  progress_state *p = ctx;
  double now = infb_clock_seconds();
  if (total == 0) {
    p->total = 0;
    fprintf(stderr, "infbench: %s\n", what);
    fflush(stderr);
    return;
  }
  if (p->total != total || done == 0 || done < p->done) {
    p->start = now;
    p->total = total;
    p->first = done;
    p->last = now;
  }
  p->done = done;
  if (done < total && now - p->last < PROGRESS_LOG_SECONDS)
    return;
  p->last = now;
  double el = now - p->start, rate = el > 0 ? (double)(done - p->first) / el : 0.0;
  double left = rate > 0 ? (double)(total - done) / rate : 0.0;
  fprintf(stderr, "infbench: %s: %zu of %zu (%.0f%%), %.3g/s, %.0f s left\n", what, done, total,
          100.0 * (double)done / (double)total, rate, left);
  fflush(stderr);
}

static const char usage_text[] =
    "usage: infbench run FILE.ini [-o DIR] [--set SECTION.KEY=VALUE]... [--threads N]\n"
    "                    [--plot] [--quiet] [--force] [--stop-after STAGE]\n"
    "       infbench run --resume DIR [--set SECTION.KEY=VALUE]... [--threads N]\n"
    "                    [--stop-after STAGE] [--plot] [--quiet]\n"
    "\n"
    "Run the experiment: fit every estimator of [estimators] run, print the comparison\n"
    "table and write config.ini, results.json, TSV tables and gnuplot scripts to the run\n"
    "directory (runs/NAME unless -o).\n"
    "\n"
    "  -o, --output DIR              run directory (refused if it exists, unless --force)\n"
    "  -s, --set SECTION.KEY=VALUE   override a key of the file (repeatable)\n"
    "  -j, --threads N               threads to run on (1 to 64; default [experiment]\n"
    "                                threads): not part of the config's hash, the\n"
    "                                results do not depend on it, and a run resumes\n"
    "                                on any thread count; under mpirun, per rank\n"
    "                                (default 1)\n"
    "  -p, --plot                    render the figures with gnuplot (PNG and SVG)\n"
    "  -q, --quiet                   print nothing but errors\n"
    "  -f, --force                   reuse an existing run directory\n"
    "  -r, --resume DIR              continue the interrupted run in DIR from its\n"
    "                                config.ini, reusing its finished stages; with\n"
    "                                --set, extend it (a finished run too): stages\n"
    "                                whose keys are unchanged are kept, new ones run\n"
    "                                (e.g. --set ais.chains=16 adds AIS)\n"
    "  -S, --stop-after STAGE        VAE runs: stop after STAGE (train or evaluate-train)\n"
    "                                of every estimator; --resume goes on\n"
    "  -h, --help                    print this help\n"
    "\n"
    "Exit status: 0 success (also a run stopped by --stop-after, and --resume of a finished\n"
    "run), 1 run failure (any estimator failed, or an output could not be written), 2 usage\n"
    "or config error, 130 interrupted (SIGINT or SIGTERM; --resume continues).\n"
    "\n"
    "Under MPI (mpirun -np N infbench run ...): rank 0 reads the config and writes every\n"
    "output; all ranks compute the gap report's groups of points; the outputs are the\n"
    "same as on one process (infbench(1), CLUSTERS).\n";

/* Nonzero when DIR/results.json holds exactly the document results (it was written). */
static int
results_written(const char *dir, const json_t *results)
{
  char *path = infb_path_join(dir, "results.json");
  json_t *disk = path ? json_load_file(path, 0, NULL) : NULL;
  int same = disk && json_equal(disk, (json_t *)results);
  json_decref(disk);
  free(path);
  return same;
}

/* Print each failed estimator's reason from a results document to stderr. */
static void
print_failures(const json_t *results)
{
  const json_t *ests = json_object_get(results, "estimators");
  const json_t *order = json_object_get(results, "order");
  for (size_t k = 0; k < json_array_size(order); k++) {
    const char *name = json_string_value(json_array_get(order, k));
    const char *status =
        json_string_value(json_object_get(json_object_get(ests, name ? name : ""), "status"));
    if (name && status && strcmp(status, "ok") != 0)
      infb_cli_error("%s failed: %s", name, status);
  }
}

/* Load the recorded configuration of the run in dir for --resume: *cfg on success; with
 * *finished set (and *cfg NULL) when the run ended.  Prints its own errors and returns an
 * exit status. */
static int
load_resumed(const char *dir, const char *threads_set, char **user_sets, size_t nuser,
             infb_run_dir_info *info, infb_config **cfg, infb_config **recorded, int *finished)
{
  *cfg = NULL;
  *recorded = NULL;
  *finished = 0;
  infb_error_clear();
  int st = infb_run_dir_inspect(dir, info);
  if (st) {
    infb_cli_error("--resume: %s", infb_error_message());
    return st == INFB_ECONFIG ? EXIT_USAGE : EXIT_RUNFAIL;
  }
  if (info->finished && nuser == 0) {
    *finished = 1;
    return EXIT_OK;
  }
  char *path = infb_path_join(dir, "config.ini");
  if (!path) {
    infb_cli_error("out of memory");
    return EXIT_RUNFAIL;
  }
  infb_config *c = infb_cli_load_config(path, NULL, 0);
  char hex[INFB_SHA256_HEX];
  if (c)
    infb_config_set_recorded(c); /* keys newer than the run take their defaults */
  if (c && infb_config_hash(c, hex) != GSL_SUCCESS) {
    infb_config_free(c);
    c = NULL;
  }
  if (!c) {
    infb_cli_error("--resume: cannot use the configuration %s", path);
    free(path);
    return EXIT_USAGE;
  }
  /* A run recorded before the execution settings were left out of the hash. */
  if (strcmp(hex, info->hash) != 0 && infb_config_hash_with_exec(c, hex) != GSL_SUCCESS)
    hex[0] = '\0';
  if (strcmp(hex, info->hash) != 0) {
    infb_cli_error("--resume: the configuration in %s (sha256 %.12s) no longer matches the one "
                   "the run recorded (sha256 %.12s): it was edited, or this infbench resolves "
                   "it differently; start a new run",
                   path, hex, info->hash);
    infb_config_free(c);
    free(path);
    return EXIT_USAGE;
  }
  /* Relative paths resolved against the original file's directory; here they would
   * resolve against dir: point them back. */
  char **sets = NULL;
  size_t nsets = 0;
  const char *base = info->base;
  char *source_dir = NULL;
  if (!base && info->source && strchr(info->source, '/')) {
    source_dir = infb_strdup(info->source);
    if (source_dir)
      *strrchr(source_dir, '/') = '\0';
    base = source_dir;
  }
  if (base && infb_run_rebase_paths(c, base, &sets, &nsets) != GSL_SUCCESS) {
    infb_cli_error("out of memory");
    infb_config_free(c);
    free(source_dir);
    free(path);
    return EXIT_RUNFAIL;
  }
  if (threads_set) { /* --threads: an execution setting, outside the hash */
    char **more = realloc(sets, (nsets + 2) * sizeof *sets);
    char *dup = more ? strdup(threads_set) : NULL;
    if (more)
      sets = more;
    if (!dup) {
      infb_cli_error("out of memory");
      infb_strlist_free(sets);
      infb_config_free(c);
      free(source_dir);
      free(path);
      return EXIT_RUNFAIL;
    }
    sets[nsets++] = dup;
    sets[nsets] = NULL;
  }
  if (nsets) {
    infb_config_free(c);
    c = infb_cli_load_config(path, sets, nsets);
    if (c)
      infb_config_set_recorded(c);
  }
  /* Extending the run (--set): the recorded config stays beside the new one, so that the
   * stages whose keys did not change are kept (infb_run_stage_hashes). */
  if (c && nuser) {
    char **all = realloc(sets, (nsets + nuser + 1) * sizeof *sets);
    if (all)
      sets = all;
    for (size_t i = 0; all && i < nuser; i++)
      if (!(sets[nsets++] = strdup(user_sets[i])))
        all = NULL;
    if (all) {
      sets[nsets] = NULL;
      *recorded = c;
      c = infb_cli_load_config(path, sets, nsets);
      if (c)
        infb_config_set_recorded(c);
    } else {
      infb_cli_error("out of memory");
      infb_config_free(c);
      c = NULL;
    }
  }
  infb_strlist_free(sets);
  free(source_dir);
  free(path);
  if (!c) {
    infb_config_free(*recorded);
    *recorded = NULL;
    return EXIT_USAGE;
  }
  *cfg = c;
  return EXIT_OK;
}

int
infb_cmd_run(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"output", required_argument, NULL, 'o'}, {"set", required_argument, NULL, 's'},
      {"plot", no_argument, NULL, 'p'},         {"quiet", no_argument, NULL, 'q'},
      {"force", no_argument, NULL, 'f'},        {"resume", required_argument, NULL, 'r'},
      {"stop-after", required_argument, NULL, 'S'},
      {"threads", required_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  char **sets = calloc((size_t)argc, sizeof *sets);
  size_t nsets = 0;
  const char *outdir = NULL, *resume = NULL;
  int plot = 0, quiet = 0, force = 0, stop_after = INFB_STAGE_ALL, ch;
  char threads_set[64] = ""; /* --threads N as "experiment.threads=N" */
  if (!sets) {
    infb_cli_error("out of memory");
    return EXIT_RUNFAIL;
  }
  optind = 1;
  while ((ch = getopt_long(argc, argv, "o:s:pqfr:S:j:h", longopts, NULL)) != -1) {
    switch (ch) {
    case 'j': {
      char *end;
      errno = 0;
      long t = strtol(optarg, &end, 10);
      if (errno || end == optarg || *end || t < 1 || t > 64) {
        infb_cli_error("--threads: '%s' is not a thread count from 1 to 64", optarg);
        free(sets);
        return EXIT_USAGE;
      }
      snprintf(threads_set, sizeof threads_set, "experiment.threads=%ld", t);
      break;
    }
    case 'o':
      outdir = optarg;
      break;
    case 's':
      sets[nsets++] = optarg;
      break;
    case 'p':
      plot = 1;
      break;
    case 'q':
      quiet = 1;
      break;
    case 'f':
      force = 1;
      break;
    case 'r':
      resume = optarg;
      break;
    case 'S':
      stop_after = infb_run_stage_parse(optarg);
      if (stop_after != INFB_STAGE_TRAIN && stop_after != INFB_STAGE_EVALUATE_TRAIN) {
        infb_cli_error("--stop-after: '%s' is not a stage to stop after (train or "
                       "evaluate-train)",
                       optarg);
        free(sets);
        return EXIT_USAGE;
      }
      break;
    case 'h':
      fputs(usage_text, stdout);
      free(sets);
      return EXIT_OK;
    default:
      fputs(usage_text, stderr);
      free(sets);
      return EXIT_USAGE;
    }
  }
  /* An empty name is no directory (and "" would be mkdir'ed as a relative path). */
  const char *empty = outdir && !*outdir ? "--output" : resume && !*resume ? "--resume" : NULL;
  if (empty) {
    infb_cli_error("%s: the directory name is empty", empty);
    free(sets);
    return EXIT_USAGE;
  }
  if (resume) {
    const char *bad = outdir ? "--output" : force ? "--force" : NULL;
    if (bad || optind != argc) {
      if (bad)
        infb_cli_error("%s is not allowed with --resume: the run goes on with the "
                       "configuration and directory it recorded",
                       bad);
      else
        infb_cli_error("--resume DIR takes no FILE.ini: the run goes on with DIR/config.ini");
      free(sets);
      return EXIT_USAGE;
    }
  } else if (optind != argc - 1) {
    fputs(usage_text, stderr);
    free(sets);
    return EXIT_USAGE;
  }

  /* Under a launcher every rank is a process of its own: one thread each unless
   * --threads says otherwise (-np 2 on 2 cores must not run 4 threads). */
  if (!*threads_set && infb_par_launched_size(env_get) != 0)
    snprintf(threads_set, sizeof threads_set, "experiment.threads=1");

  /* The fault-injection variables (a testing aid): checked before anything is done. */
  if (infb_fault_init() != GSL_SUCCESS) {
    infb_cli_error("%s", infb_error_message());
    free(sets);
    return EXIT_USAGE;
  }

  infb_config *cfg = NULL, *recorded = NULL;
  infb_run_dir_info info;
  memset(&info, 0, sizeof info);
  if (resume) {
    int finished = 0;
    int code = load_resumed(resume, *threads_set ? threads_set : NULL, sets, nsets, &info, &cfg,
                            &recorded, &finished);
    if (code != EXIT_OK || finished) {
      if (finished && !quiet)
        printf("%s: the run finished; nothing to resume\n", resume);
      infb_run_dir_info_free(&info);
      free(sets);
      return code;
    }
    outdir = resume;
  } else {
    if (*threads_set) /* after the --set options, so it wins over a --set of threads */
      sets[nsets++] = threads_set;
    cfg = infb_cli_load_config(argv[optind], sets, nsets);
  }
  free(sets);
  if (!cfg) {
    infb_run_dir_info_free(&info);
    return EXIT_USAGE;
  }
  if (stop_after && strcmp(infb_config_get(cfg, "model", "type"), "vae") != 0) {
    infb_cli_error("--stop-after: [model] type = %s runs in one go; stages are for vae",
                   infb_config_get(cfg, "model", "type"));
    infb_run_dir_info_free(&info);
    infb_config_free(cfg);
    return EXIT_USAGE;
  }

  /* The first SIGINT or SIGTERM asks for a clean stop (the current epoch's checkpoint, or
   * the current group of points, then consistent outputs); a second one kills at once. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  progress_state ps;
  memset(&ps, 0, sizeof ps);
  infb_run_options opt = {
      .outdir = outdir,
      .force = force,
      /* A terminal gets the bar; a launcher's log (mpirun, srun) lines. */
      .progress = quiet                                   ? NULL
                  : isatty(STDERR_FILENO)                 ? show_progress
                  : infb_par_launched_size(env_get) != 0 ? log_progress
                                                          : NULL,
      .progress_ctx = &ps,
      .interrupted = &got_signal,
      .resume = resume != NULL,
      .stop_after = stop_after,
      .recorded_hash = resume ? info.hash : NULL,
      .recorded_file = resume ? info.source : NULL,
      .recorded_cfg = recorded,
  };
  infb_run_result res;
  infb_error_clear();
  int st = infb_run(cfg, &opt, &res);
  int code = EXIT_OK;
  if (ps.open)
    fputc('\n', stderr);
  if (res.results && !quiet)
    infb_cli_print_report(res.results);
  if (st == INFB_EINTR || got_signal) {
    if (res.outdir)
      infb_cli_error("interrupted; continue with: infbench run --resume %s", res.outdir);
    else
      infb_cli_error("interrupted");
    code = EXIT_INTERRUPTED;
  } else if (st == INFB_ECONFIG) {
    infb_cli_error("%s", infb_error_message());
    code = EXIT_USAGE;
  } else if (st == GSL_EFAILED && res.results && res.nfailed &&
             results_written(res.outdir, res.results)) {
    if (quiet) /* otherwise the table above lists the reasons */
      print_failures(res.results);
    infb_cli_error("%zu estimator(s) failed; see %s/results.json", res.nfailed, res.outdir);
    code = EXIT_RUNFAIL;
    if (res.write_failed && access(res.outdir, F_OK) == 0)
      infb_cli_error("once the outputs can be written, continue with: infbench run --resume %s",
                     res.outdir);
  } else if (st) {
    /* An output could not be written (a full disk...): the estimators' reasons, then
     * the output's own message, naming the file. */
    if (res.results)
      print_failures(res.results);
    infb_cli_error("%s", *infb_error_message() ? infb_error_message() : infb_strerror(st));
    code = EXIT_RUNFAIL;
    if (res.write_failed && res.outdir && access(res.outdir, F_OK) == 0)
      infb_cli_error("once the outputs can be written, continue with: infbench run --resume %s",
                     res.outdir);
  }
  const char *idle_job;
  size_t idle_groups;
  int idle = infb_par_idle(&idle_job, &idle_groups);
  if (idle > 0 && !quiet)
    infb_cli_error("note: %d of the %d ranks had no group of points to compute at times (e.g. "
                   "%s: %zu groups); fewer ranks would have done as well",
                   idle, infb_par_size(), idle_job, idle_groups);
  if (code == EXIT_OK && res.stopped && !quiet)
    printf("\nstopped after stage %s; continue with: infbench run --resume %s\n",
           infb_run_stage_name(stop_after), res.outdir);
  else if (res.outdir && !quiet && code != EXIT_USAGE)
    printf("\noutputs in %s\n", res.outdir);
  if (plot && res.outdir && code != EXIT_USAGE && code != EXIT_INTERRUPTED) {
    int pst = infb_cli_render_dir(res.outdir, "both", quiet);
    if (pst && code == EXIT_OK)
      code = EXIT_RUNFAIL;
  }
  infb_run_result_free(&res);
  infb_run_dir_info_free(&info);
  infb_config_free(cfg);
  infb_config_free(recorded);
  return code;
}
