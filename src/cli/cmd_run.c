/* infbench run: run an experiment, print the comparison table, optionally render plots. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/error.h"
#include "exp/config.h"
#include "exp/runner.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
  got_signal = sig;
}

/* The progress display on a terminal: a line per stage; for counted stages a bar with
 * the rate and the time left, redrawn at most PROGRESS_HZ times a second. */
#define PROGRESS_HZ 5.0
#define PROGRESS_WIDTH 24

typedef struct progress_state {
  double start;      /* when the current counted stage began */
  double last;       /* last redraw */
  size_t total;      /* the current counted stage's total (0: none) */
  int open;          /* a bar line is on screen without its newline */
} progress_state;

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
  if (p->total != total || done == 0) { /* a new counted stage */
    p->start = now;
    p->total = total;
    p->last = 0.0;
  }
  if (done > 0 && done < total && now - p->last < 1.0 / PROGRESS_HZ)
    return;
  p->last = now;
  double frac = (double)done / (double)total, el = now - p->start;
  double rate = el > 0 ? (double)done / el : 0.0, left = rate > 0 ? (double)(total - done) / rate : 0;
  char bar[PROGRESS_WIDTH + 1];
  size_t filled = (size_t)(frac * PROGRESS_WIDTH + 0.5);
  for (size_t i = 0; i < PROGRESS_WIDTH; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[PROGRESS_WIDTH] = '\0';
  fprintf(stderr, "\r\033[K[%s] %3.0f%% %.2f/s, %02d:%02d left  %s", bar, 100.0 * frac, rate,
          (int)(left / 60), (int)left % 60, what);
  p->open = 1;
  if (done >= total) {
    fputc('\n', stderr);
    p->open = 0;
  }
  fflush(stderr);
}

static const char usage_text[] =
    "usage: infbench run FILE.ini [-o DIR] [--set SECTION.KEY=VALUE]... [--plot] [--quiet]\n"
    "                    [--force]\n"
    "\n"
    "Run the experiment: fit every estimator of [estimators] run, print the comparison\n"
    "table and write config.ini, results.json, TSV tables and gnuplot scripts to the run\n"
    "directory (runs/NAME unless -o).\n"
    "\n"
    "  -o, --output DIR              run directory (refused if it exists, unless --force)\n"
    "  -s, --set SECTION.KEY=VALUE   override a key of the file (repeatable)\n"
    "  -p, --plot                    render the figures with gnuplot (PNG and SVG)\n"
    "  -q, --quiet                   print nothing but errors\n"
    "  -f, --force                   reuse an existing run directory\n"
    "  -h, --help                    print this help\n"
    "\n"
    "Exit status: 0 success, 1 run failure (any estimator failed), 2 usage or config\n"
    "error, 130 interrupted.\n";

int
infb_cmd_run(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"output", required_argument, NULL, 'o'}, {"set", required_argument, NULL, 's'},
      {"plot", no_argument, NULL, 'p'},         {"quiet", no_argument, NULL, 'q'},
      {"force", no_argument, NULL, 'f'},        {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  char **sets = calloc((size_t)argc, sizeof *sets);
  size_t nsets = 0;
  const char *outdir = NULL;
  int plot = 0, quiet = 0, force = 0, ch;
  if (!sets) {
    infb_cli_error("out of memory");
    return EXIT_RUNFAIL;
  }
  optind = 1;
  while ((ch = getopt_long(argc, argv, "o:s:pqfh", longopts, NULL)) != -1) {
    switch (ch) {
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
  if (optind != argc - 1) {
    fputs(usage_text, stderr);
    free(sets);
    return EXIT_USAGE;
  }
  infb_config *cfg = infb_cli_load_config(argv[optind], sets, nsets);
  free(sets);
  if (!cfg)
    return EXIT_USAGE;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  progress_state ps = {0};
  infb_run_options opt = {
      .outdir = outdir,
      .force = force,
      .progress = !quiet && isatty(STDERR_FILENO) ? show_progress : NULL,
      .progress_ctx = &ps,
      .interrupted = &got_signal,
  };
  infb_run_result res;
  int st = infb_run(cfg, &opt, &res);
  int code = EXIT_OK;
  if (res.results && !quiet)
    infb_cli_print_report(res.results);
  if (st == INFB_EINTR || got_signal) {
    infb_cli_error("interrupted; the finished estimators' outputs are in %s",
                   res.outdir ? res.outdir : "(no directory)");
    code = EXIT_INTERRUPTED;
  } else if (st == INFB_ECONFIG) {
    infb_cli_error("%s", infb_error_message());
    code = EXIT_USAGE;
  } else if (st == GSL_EFAILED && res.results && res.nfailed) {
    infb_cli_error("%zu estimator(s) failed; see the table above and %s/results.json",
                   res.nfailed, res.outdir);
    code = EXIT_RUNFAIL;
  } else if (st) {
    infb_cli_error("%s", *infb_error_message() ? infb_error_message() : infb_strerror(st));
    code = EXIT_RUNFAIL;
  }
  if (res.outdir && !quiet && code != EXIT_USAGE)
    printf("\noutputs in %s\n", res.outdir);
  if (plot && res.outdir && code != EXIT_USAGE && code != EXIT_INTERRUPTED) {
    int pst = infb_cli_render_dir(res.outdir, "both", quiet);
    if (pst && code == EXIT_OK)
      code = EXIT_RUNFAIL;
  }
  infb_run_result_free(&res);
  infb_config_free(cfg);
  return code;
}
