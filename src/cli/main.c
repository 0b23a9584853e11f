/* infbench: the command dispatcher, global options and signal handling. */
#include "config.h"
#include "cli/cli.h"
#include "core/error.h"
#include "linalg/blas.h"
#include "par/par.h"
#include "par/sched.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_version.h>

static const char usage_text[] =
    "usage: infbench COMMAND [OPTIONS]\n"
    "\n"
    "Fit one probabilistic model with several estimators and compare them.\n"
    "\n"
    "commands:\n"
    "  run FILE.ini     run an experiment (infbench run --help)\n"
    "  check FILE.ini   validate a config; print it resolved, with its hash\n"
    "  list [keys]      models, estimators and data sources; or every config key\n"
    "  plot DIR         render the gnuplot scripts of a run directory\n"
    "\n"
    "options:\n"
    "  --version        print the program, GSL and BLAS versions\n"
    "  --help           print this help\n"
    "\n"
    "See infbench(1) and infbench.ini(5).\n";

void
infb_cli_error(const char *fmt, ...)
{
  va_list ap;
  fputs("infbench: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* The command line's command, as the process's own exit code. */
static int
command(int argc, char **argv)
{
  if (argc < 2) {
    fputs(usage_text, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage_text, stdout);
    return EXIT_OK;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    char kernels[256], wait[256];
    infb_cli_blas_describe(kernels, sizeof kernels);
    infb_cli_wait_describe(wait, sizeof wait);
    printf("%s %s\nGSL %s\nBLAS %s\nBLAS kernels: %s\nOpenMP wait policy: %s\nMPI: %s\n",
           PACKAGE_NAME, PACKAGE_VERSION, gsl_version, infb_blas_config(), kernels, wait,
           infb_par_describe());
    return EXIT_OK;
  }
  if (strcmp(cmd, "run") == 0)
    return infb_cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "check") == 0)
    return infb_cmd_check(argc - 1, argv + 1);
  if (strcmp(cmd, "list") == 0)
    return infb_cmd_list(argc - 1, argv + 1);
  if (strcmp(cmd, "plot") == 0)
    return infb_cmd_plot(argc - 1, argv + 1);
  infb_cli_error("unknown command '%s' (try infbench --help)", cmd);
  return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
  infb_cli_exec_setup(argv); /* before MPI starts: it may re-execute the program */
  /* The library reports through statuses; GSL must never abort the program. */
  gsl_set_error_handler(infb_error_gsl_handler);
  if (infb_par_init(&argc, &argv)) {
    infb_cli_error("%s", infb_error_message());
    return EXIT_USAGE;
  }
  if (infb_par_active()) {
    /* Every rank the same binary and kernels as rank 0, or none runs. */
    char msg[512];
    int verdict = infb_par_handshake(msg, sizeof msg);
    if (verdict) {
      if (infb_par_rank() == 0)
        infb_cli_error("refused at the start: %s", msg);
      infb_par_finalize();
      return EXIT_USAGE;
    }
    if (infb_par_rank() != 0) {
      int code = infb_cli_serve(argc, argv);
      infb_par_finalize();
      return code;
    }
  }
  int code = command(argc, argv);
  /* The other ranks end with rank 0's code; a job that failed with groups still out
   * left them busy: stop them all. */
  if (infb_par_active() && infb_par_release(code)) {
    fflush(stdout);
    fflush(stderr);
    infb_par_abort(code);
  }
  infb_par_finalize(); /* a no-op unless MPI runs (also on one rank) */
  return code;
}
