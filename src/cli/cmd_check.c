/* infbench check: validate a config and print it resolved with its hash. */
#include "config.h"
#include "cli/cli.h"
#include "exp/config.h"
#include "core/error.h"
#include "exp/cost.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

struct infb_config *
infb_cli_load_config(const char *path, char *const *sets, size_t nsets)
{
  char msg[1024];
  infb_config *c = infb_config_alloc();
  if (!c) {
    infb_cli_error("out of memory");
    return NULL;
  }
  int st = infb_config_read(c, path, msg, sizeof msg);
  for (size_t i = 0; !st && i < nsets; i++)
    st = infb_config_set(c, sets[i], msg, sizeof msg);
  if (!st)
    st = infb_config_resolve(c, msg, sizeof msg);
  if (st) {
    fprintf(stderr, "%s\n", msg);
    infb_config_free(c);
    return NULL;
  }
  return c;
}

/* The decoder's sustained rate assumed for core-hours: AIS measured 60 000 protocol-size
 * decoder rows (forward + gradient, 0.83 MFLOP each) per second on one Zen 3 core
 * (bench/RESULTS.md). */
#define CHECK_RATE_GFLOPS 50.0

static const char usage_text[] =
    "usage: infbench check FILE.ini [--set SECTION.KEY=VALUE]... [--rate GFLOPS]\n"
    "\n"
    "Validate an experiment file and print the resolved configuration (every default\n"
    "filled in, canonical order) and its SHA-256 hash, headed by the estimated cost of\n"
    "its evaluation stages (vae: decoder rows and core-hours).  Exit 0 when valid, 2\n"
    "otherwise.\n"
    "\n"
    "  -s, --set SECTION.KEY=VALUE   override a key (repeatable)\n"
    "  -r, --rate GFLOPS             a core's sustained decoder rate for the core-hours\n"
    "                                (default 50: AIS on a Zen 3 core, bench/RESULTS.md)\n"
    "  -h, --help                    print this help\n";

/* The cost of the evaluation stages, as comment lines. */
static int
print_cost(const infb_config *c, double rate)
{
  const int idx = strcmp(infb_config_get(c, "data", "source"), "idx") == 0;
  infb_cost_stage st[INFB_COST_MAX_STAGES];
  size_t n = 0;
  char msg[256];
  if (infb_cost_estimate(c, idx ? 784 : 0, st, &n)) {
    snprintf(msg, sizeof msg, "%s", infb_error_message());
    infb_cli_error("%s", msg);
    return EXIT_USAGE;
  }
  if (n == 0)
    return EXIT_OK;
  printf("# evaluation cost (estimated; decoder rows of %s, core-hours at %g GFLOP/s per "
         "core):\n",
         idx ? "D = 784 (28 × 28 images)" : "an unknown D", rate);
  printf("#   %-6s %7s  %-22s %-21s %s\n", "stage", "reports", "rows per report", "rows are",
         "core-hours in all");
  double total_lo = 0, total_hi = 0;
  for (size_t i = 0; i < n; i++) {
    char rows[64], hours[64];
    if (st[i].rows_lo == st[i].rows_hi)
      snprintf(rows, sizeof rows, "%.3g", st[i].rows_lo);
    else
      snprintf(rows, sizeof rows, "%.3g to %.3g", st[i].rows_lo, st[i].rows_hi);
    double lo = st[i].flop_lo * (double)st[i].reports / (rate * 1e9) / 3600.0;
    double hi = st[i].flop_hi * (double)st[i].reports / (rate * 1e9) / 3600.0;
    if (!isfinite(lo))
      snprintf(hours, sizeof hours, "?");
    else if (lo == hi)
      snprintf(hours, sizeof hours, "%.3g", lo);
    else
      snprintf(hours, sizeof hours, "%.3g to %.3g", lo, hi);
    total_lo += lo;
    total_hi += hi;
    printf("#   %-6s %7zu  %-22s %-21s %s\n", st[i].name, st[i].reports, rows, st[i].rows_are,
           hours);
  }
  if (isfinite(total_lo))
    printf("#   in all: %.3g to %.3g core-hours (q*'s steps set the range: its stopping "
           "rule's fewest, and max_steps)\n",
           total_lo, total_hi);
  return EXIT_OK;
}

int
infb_cmd_check(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"set", required_argument, NULL, 's'}, {"rate", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  double rate = CHECK_RATE_GFLOPS;
  char **sets = calloc((size_t)argc, sizeof *sets);
  size_t nsets = 0;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "s:r:h", longopts, NULL)) != -1) {
    switch (ch) {
    case 's':
      sets[nsets++] = optarg;
      break;
    case 'r': {
      char *end;
      errno = 0;
      rate = strtod(optarg, &end);
      if (errno || end == optarg || *end || !(rate > 0) || !isfinite(rate)) {
        infb_cli_error("--rate: '%s' is not a positive GFLOP/s figure", optarg);
        free(sets);
        return EXIT_USAGE;
      }
      break;
    }
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
  infb_config *c = infb_cli_load_config(argv[optind], sets, nsets);
  free(sets);
  if (!c)
    return EXIT_USAGE;
  char hex[INFB_SHA256_HEX];
  char *canon = infb_config_canonical(c);
  if (!canon || infb_config_hash(c, hex)) {
    infb_cli_error("out of memory");
    free(canon);
    infb_config_free(c);
    return EXIT_RUNFAIL;
  }
  printf("# %s: valid\n# sha256: %s\n", argv[optind], hex);
  int code = print_cost(c, rate);
  printf("\n%s", canon);
  free(canon);
  infb_config_free(c);
  return code;
}
