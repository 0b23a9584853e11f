/* OpenBLAS's kernel choice for this process (see infb_cli_blas_kernels in cli.h). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "cli/cli.h"
#include "linalg/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set in the re-executed process's environment: the set OpenBLAS had chosen itself. */
#define CHOSEN_OVER "INFBENCH_BLAS_CHOSEN_OVER"

void
infb_cli_blas_kernels(char **argv)
{
  const char *core = infb_blas_corename();
  const char *better = infb_blas_choose_coretype(core, infb_blas_cpu_features(),
                                                 getenv("OPENBLAS_CORETYPE"),
                                                 getenv("INFBENCH_BLAS_CORETYPE"));
  if (!better || setenv(CHOSEN_OVER, core, 1) != 0 ||
      setenv("OPENBLAS_CORETYPE", better, 1) != 0)
    return;
  execv("/proc/self/exe", argv); /* returns only on failure */
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(CHOSEN_OVER);
}

void
infb_cli_blas_describe(char *buf, size_t size)
{
  const char *core = infb_blas_corename(), *env = getenv("OPENBLAS_CORETYPE");
  const char *over = getenv(CHOSEN_OVER);
  if (!core)
    core = "(unknown)";
  if (env && over)
    snprintf(buf, size, "%s (chosen by infbench over OpenBLAS's %s)", core, over);
  else if (env)
    snprintf(buf, size, "%s (OPENBLAS_CORETYPE=%s)", core, env);
  else {
    const char *advice = infb_blas_choose_coretype(core, infb_blas_cpu_features(), NULL, NULL);
    snprintf(buf, size, "%s (OpenBLAS's own choice; infbench's advice: %s)", core,
             advice ? advice : "none");
  }
}
