/* Tests of src/par/par's pure functions: how many ranks a launcher says it started
 * (infb_par_launched_size) under the environments Open MPI's mpirun and Slurm's srun
 * set, and the verdict on a rank's identity against rank 0's (infb_par_identity_check):
 * the same passes; another version or binary is refused; other kernels are refused with
 * the advice to run rank 0's (OPENBLAS_CORETYPE) when the rank's CPU can run them, and
 * with a message saying it cannot when it lacks their instructions. */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "linalg/blas.h"
#include "par/par.h"

#include <stdio.h>
#include <string.h>

/* The environment a test injects: NULL-terminated name, value pairs. */
static const char *const *env_pairs;

static const char *
env_get(const char *name)
{
  for (size_t i = 0; env_pairs[i]; i += 2)
    if (strcmp(env_pairs[i], name) == 0)
      return env_pairs[i + 1];
  return NULL;
}

static long
launched(const char *const *pairs)
{
  env_pairs = pairs;
  return infb_par_launched_size(env_get);
}

/* An identity of version v, binary sha, kernels core on a CPU with features. */
static infb_par_identity
identity(const char *v, const char *sha, const char *core, unsigned features, const char *host)
{
  infb_par_identity id;
  memset(&id, 0, sizeof id);
  snprintf(id.version, sizeof id.version, "%s", v);
  snprintf(id.exe_sha256, sizeof id.exe_sha256, "%s", sha);
  snprintf(id.corename, sizeof id.corename, "%s", core);
  id.features = features;
  snprintf(id.host, sizeof id.host, "%s", host);
  return id;
}

int
main(void)
{
  plan(25);

  /* infb_par_launched_size. */
  is_int(3, launched((const char *const[]){"OMPI_COMM_WORLD_SIZE", "3", NULL}),
         "launched: OMPI_COMM_WORLD_SIZE=3 is 3 ranks");
  is_int(3, launched((const char *const[]){"OMPI_COMM_WORLD_SIZE", "3", "PMIX_RANK", "0",
                                           "SLURM_STEP_NUM_TASKS", "5", NULL}),
         "launched: Open MPI's size before Slurm's task count");
  is_int(-1, launched((const char *const[]){"PMIX_RANK", "0", NULL}),
         "launched: PMIX_RANK=0 alone is -1 (unknown until MPI starts)");
  is_int(2, launched((const char *const[]){"PMIX_RANK", "2", NULL}),
         "launched: PMIX_RANK=2 alone is 2 (one of several)");
  is_int(4, launched((const char *const[]){"PMI_RANK", "0", "SLURM_STEP_NUM_TASKS", "4", NULL}),
         "launched: PMI_RANK with SLURM_STEP_NUM_TASKS=4 is 4");
  is_int(4, launched((const char *const[]){"PMIX_RANK", "3", "SLURM_STEP_NUM_TASKS", "4", NULL}),
         "launched: PMIX_RANK=3 with SLURM_STEP_NUM_TASKS=4 is 4");
  is_int(0, launched((const char *const[]){NULL}), "launched: no launcher's variable is 0");
  is_int(0, launched((const char *const[]){"SLURM_STEP_NUM_TASKS", "4", NULL}),
         "launched: SLURM_STEP_NUM_TASKS alone (an sbatch script, no srun) is 0");
  is_int(-1, launched((const char *const[]){"OMPI_COMM_WORLD_SIZE", "x", "PMIX_RANK", "0", NULL}),
         "launched: an OMPI_COMM_WORLD_SIZE that is no number is skipped");
  is_int(0, launched((const char *const[]){"OMPI_COMM_WORLD_SIZE", "0", NULL}),
         "launched: OMPI_COMM_WORLD_SIZE=0 alone is 0");
  is_int(-1, launched((const char *const[]){"PMI_RANK", "0", "SLURM_STEP_NUM_TASKS", "-2", NULL}),
         "launched: a negative SLURM_STEP_NUM_TASKS is skipped");

  /* infb_par_identity_check. */
  const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const unsigned avx2 = INFB_CPU_AVX2 | INFB_CPU_FMA;
  infb_par_identity root = identity("1.2", sha, "SkylakeX", avx2 | INFB_CPU_AVX512_SKX, "n0");
  char msg[512];
  infb_par_identity id = root;
  snprintf(id.host, sizeof id.host, "n1");
  msg[0] = '\0';
  is_int(GSL_SUCCESS, infb_par_identity_check(&root, &id, 1, msg, sizeof msg),
         "identity: the same version, binary and kernels pass");
  ok(msg[0] == '\0', "identity: ... with no message");

  id = identity("1.3", sha, "SkylakeX", avx2 | INFB_CPU_AVX512_SKX, "n1");
  is_int(INFB_ECONFIG, infb_par_identity_check(&root, &id, 2, msg, sizeof msg),
         "identity: another version is refused");
  ok(strstr(msg, "rank 2 on n1 runs infbench 1.3") && strstr(msg, "runs 1.2") &&
         strstr(msg, "same binary"),
     "identity: ... naming the rank, its node and both versions: %s", msg);

  id = identity("1.2", "fedcba9876543210", "SkylakeX", avx2 | INFB_CPU_AVX512_SKX, "n1");
  is_int(INFB_ECONFIG, infb_par_identity_check(&root, &id, 1, msg, sizeof msg),
         "identity: another build of the same version is refused");
  ok(strstr(msg, "another build") && strstr(msg, "fedcba987654") && strstr(msg, "0123456789ab"),
     "identity: ... with both binaries' hashes: %s", msg);

  /* Rank 0 on Haswell kernels, a rank on SkylakeX ones: its CPU runs Haswell's. */
  infb_par_identity hroot = identity("1.2", sha, "Haswell", avx2, "n0");
  id = identity("1.2", sha, "SkylakeX", avx2 | INFB_CPU_AVX512_SKX, "n1");
  is_int(INFB_ECONFIG, infb_par_identity_check(&hroot, &id, 1, msg, sizeof msg),
         "identity: other kernels the rank's CPU can run are refused");
  ok(strstr(msg, "OPENBLAS_CORETYPE=Haswell") && strstr(msg, "uses OpenBLAS's SkylakeX") &&
         !strstr(msg, "cannot"),
     "identity: ... advising mpirun -x OPENBLAS_CORETYPE with rank 0's: %s", msg);

  /* Rank 0 on SkylakeX kernels, a rank whose CPU lacks AVX-512. */
  id = identity("1.2", sha, "Haswell", avx2, "n1");
  is_int(INFB_ECONFIG, infb_par_identity_check(&root, &id, 3, msg, sizeof msg),
         "identity: other kernels the rank's CPU cannot run are refused");
  ok(strstr(msg, "rank 3 on n1 cannot run OpenBLAS's SkylakeX") && strstr(msg, "lacks") &&
         strstr(msg, "OPENBLAS_CORETYPE=Haswell"),
     "identity: ... saying its CPU cannot run them: %s", msg);
  /* ... AVX-512F alone is not SkylakeX's set. */
  id = identity("1.2", sha, "Haswell", avx2 | INFB_CPU_AVX512F, "n1");
  infb_par_identity_check(&root, &id, 3, msg, sizeof msg);
  ok(strstr(msg, "cannot run") != NULL, "identity: AVX-512F alone cannot run SkylakeX's: %s",
     msg);
  /* ... nor a CPU without AVX2 Haswell's. */
  id = identity("1.2", sha, "Sandybridge", 0, "n1");
  infb_par_identity_check(&hroot, &id, 1, msg, sizeof msg);
  ok(strstr(msg, "cannot run OpenBLAS's Haswell") != NULL,
     "identity: a CPU without AVX2 cannot run Haswell's: %s", msg);
  /* An SSE set runs anywhere: the advice. */
  infb_par_identity sroot = identity("1.2", sha, "Sandybridge", 0, "n0");
  id = identity("1.2", sha, "Haswell", avx2, "n1");
  infb_par_identity_check(&sroot, &id, 1, msg, sizeof msg);
  ok(strstr(msg, "OPENBLAS_CORETYPE=Sandybridge") && !strstr(msg, "cannot"),
     "identity: rank 0's SSE kernels run anywhere: the advice: %s", msg);
  /* A short message buffer is cut, not overrun. */
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  id = identity("1.3", sha, "SkylakeX", 0, "n1");
  infb_par_identity_check(&root, &id, 1, tiny, 6);
  ok(strlen(tiny) == 5 && tiny[6] == 'x' && tiny[7] == 'x',
     "identity: the message is cut to the buffer given");
  return test_done();
}
