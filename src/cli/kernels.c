/* OpenBLAS's kernel choice for this process (see infb_cli_blas_kernels in cli.h). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "cli/cli.h"
#include "linalg/blas.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
infb_cli_blas_kernels(char **argv)
{
  const char *mode = getenv("INFBENCH_BLAS_CORETYPE");
  if ((mode && strcmp(mode, "keep") == 0) || getenv("OPENBLAS_CORETYPE"))
    return;
  const char *better = infb_blas_better_coretype();
  if (!better || setenv("OPENBLAS_CORETYPE", better, 1) != 0)
    return;
  execv("/proc/self/exe", argv); /* returns only on failure */
  unsetenv("OPENBLAS_CORETYPE");
}
