/* The environment infbench runs in: OpenBLAS's kernel choice and OpenMP's wait policy,
 * set before the libraries load by re-executing the program (see infb_cli_exec_setup in
 * cli.h). */
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

/* Set in the re-executed process's environment when infbench chose the wait policy. */
#define WAIT_SET "INFBENCH_OMP_WAIT_SET"

const char *
infb_cli_wait_policy(const char *env_policy, const char *env_spincount)
{
  return env_policy || env_spincount ? NULL : "passive";
}

void
infb_cli_exec_setup(char **argv)
{
  const char *core = infb_blas_corename();
  const char *better = infb_blas_choose_coretype(core, infb_blas_cpu_features(),
                                                 getenv("OPENBLAS_CORETYPE"),
                                                 getenv("INFBENCH_BLAS_CORETYPE"));
  const char *policy = infb_cli_wait_policy(getenv("OMP_WAIT_POLICY"), getenv("GOMP_SPINCOUNT"));
  int changed = 0;
  if (better && setenv(CHOSEN_OVER, core, 1) == 0 && setenv("OPENBLAS_CORETYPE", better, 1) == 0)
    changed = 1;
  if (policy && setenv(WAIT_SET, policy, 1) == 0 && setenv("OMP_WAIT_POLICY", policy, 1) == 0)
    changed = 1;
  if (!changed)
    return;
  execv("/proc/self/exe", argv); /* returns only on failure: undo, go on as we are */
  if (better) {
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(CHOSEN_OVER);
  }
  if (policy) {
    unsetenv("OMP_WAIT_POLICY");
    unsetenv(WAIT_SET);
  }
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

void
infb_cli_wait_describe(char *buf, size_t size)
{
  const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
  if (policy && getenv(WAIT_SET))
    snprintf(buf, size, "%s (set by infbench)", policy);
  else if (policy || spin)
    snprintf(buf, size, "the environment's (OMP_WAIT_POLICY=%s, GOMP_SPINCOUNT=%s)",
             policy ? policy : "unset", spin ? spin : "unset");
  else
    snprintf(buf, size, "OpenMP's default");
}
