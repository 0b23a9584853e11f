/* The ranks other than 0 under MPI: they compute groups of points (par/sched.h). */
#include "config.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/fault.h"
#include "infer/lggroups.h"
#include "infer/vaegroups.h"
#include "par/par.h"
#include "par/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --threads N (or -j N, --threads=N) from the command line rank 0 was given too; 1 when
 * absent (rank 0 has checked it). */
static size_t
threads_arg(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    if ((strcmp(argv[i], "--threads") == 0 || strcmp(argv[i], "-j") == 0) && i + 1 < argc)
      v = argv[i + 1];
    else if (strncmp(argv[i], "--threads=", 10) == 0)
      v = argv[i] + 10;
    else if (strncmp(argv[i], "-j", 2) == 0 && argv[i][2])
      v = argv[i] + 2;
    if (v) {
      long t = strtol(v, NULL, 10);
      return t >= 1 && t <= 64 ? (size_t)t : 1;
    }
  }
  return 1;
}

int
infb_cli_serve(int argc, char **argv)
{
  static const infb_par_kind *const kinds[] = {&infb_vae_groups_kind, &infb_lg_groups_kind};
  infb_par_kind table[sizeof kinds / sizeof *kinds];
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
    table[i] = *kinds[i];
  if (infb_fault_init() != GSL_SUCCESS) /* rank 0 reports a bad setting */
    infb_error_clear();
  infb_vae_groups_set_threads(threads_arg(argc, argv));
  int code = EXIT_OK;
  int st = infb_par_serve(table, sizeof table / sizeof *table, &code);
  if (st) {
    /* MPI failed under us: the job cannot go on. */
    infb_cli_error("rank %d: %s", infb_par_rank(),
                   *infb_error_message() ? infb_error_message() : infb_strerror(st));
    fflush(stderr);
    infb_par_abort(EXIT_RUNFAIL);
    exit(EXIT_RUNFAIL);
  }
  return code;
}
