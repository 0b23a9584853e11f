/* Ranks under an MPI launcher (see par.h). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "par/par.h"
#include "core/error.h"
#include "core/sha256.h"
#include "linalg/blas.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif

static int par_rank = 0, par_size = 1, par_running = 0;
/* Rank 0: every rank's node, from the handshake (par_size entries). */
static char (*par_hosts)[64];

long
infb_par_launched_size(const char *(*env)(const char *name))
{
  const char *s = env("OMPI_COMM_WORLD_SIZE");
  if (s && *s) {
    char *end;
    long n = strtol(s, &end, 10);
    if (*end == '\0' && n > 0)
      return n;
  }
  const char *rank = env("PMIX_RANK") ? env("PMIX_RANK") : env("PMI_RANK");
  if (!rank)
    return 0;
  /* srun: the step's task count, when Slurm says it. */
  const char *tasks = env("SLURM_STEP_NUM_TASKS");
  if (tasks && *tasks) {
    char *end;
    long n = strtol(tasks, &end, 10);
    if (*end == '\0' && n > 0)
      return n;
  }
  /* A rank other than the first is one of several. */
  return strcmp(rank, "0") != 0 ? 2 : -1;
}

int
infb_par_built(void)
{
#ifdef HAVE_MPI
  return 1;
#else
  return 0;
#endif
}

const char *
infb_par_describe(void)
{
#ifdef HAVE_MPI
  static char buf[MPI_MAX_LIBRARY_VERSION_STRING];
  if (!buf[0]) {
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len); /* callable before MPI_Init */
    lib[len < (int)sizeof lib ? len : (int)sizeof lib - 1] = '\0';
    char *nl = strpbrk(lib, ",\n");
    if (nl)
      *nl = '\0';
    snprintf(buf, sizeof buf, "%s", lib);
  }
  return buf;
#else
  return "no (built without MPI)";
#endif
}

static const char *
env_get(const char *name)
{
  return getenv(name);
}

int
infb_par_init(int *argc, char ***argv)
{
  long launched = infb_par_launched_size(env_get);
  if (launched == 0)
    return GSL_SUCCESS;
#ifdef HAVE_MPI
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
    return INFB_ERROR(GSL_EFAILED, "MPI would not start (MPI_Init_thread failed)");
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    return INFB_ERROR(GSL_EFAILED,
                      "this MPI library offers no serialised threads (MPI_THREAD_SERIALIZED), "
                      "which rank 0's dispatcher needs");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &par_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &par_size);
  /* Errors come back as codes, never as MPI's own abort. */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  par_running = 1;
  return GSL_SUCCESS;
#else
  (void)argc;
  (void)argv;
  if (launched > 1)
    return INFB_ERROR(GSL_EFAILED,
                      "started as one of %ld ranks, but this infbench was built without MPI "
                      "(configure --with-mpi): every rank would run the whole experiment alone",
                      launched);
  return GSL_SUCCESS;
#endif
}

const char *
infb_par_host(int rank)
{
  return par_hosts && rank >= 0 && rank < par_size ? par_hosts[rank] : "(unknown node)";
}

int
infb_par_rank(void)
{
  return par_rank;
}

int
infb_par_size(void)
{
  return par_size;
}

int
infb_par_active(void)
{
  return par_running && par_size > 1;
}

void
infb_par_finalize(void)
{
#ifdef HAVE_MPI
  if (par_running)
    MPI_Finalize();
  par_running = 0;
  free(par_hosts);
  par_hosts = NULL;
#endif
}

void
infb_par_abort(int code)
{
#ifdef HAVE_MPI
  if (par_running)
    MPI_Abort(MPI_COMM_WORLD, code);
#else
  (void)code;
#endif
}

void
infb_par_identity_self(infb_par_identity *id)
{
  memset(id, 0, sizeof *id);
  snprintf(id->version, sizeof id->version, "%s", PACKAGE_VERSION);
  const char *core = infb_blas_corename();
  snprintf(id->corename, sizeof id->corename, "%s", core ? core : "(unknown)");
  id->features = infb_blas_cpu_features();
  if (gethostname(id->host, sizeof id->host - 1) != 0)
    snprintf(id->host, sizeof id->host, "(unknown)");
  /* The binary: its SHA-256, so that two builds of one version are told apart. */
  FILE *f = fopen("/proc/self/exe", "rb");
  size_t cap = 0, len = 0;
  char *data = NULL;
  if (f) {
    for (;;) {
      if (len == cap) {
        size_t ncap = cap ? 2 * cap : 1 << 20;
        char *nd = realloc(data, ncap);
        if (!nd) {
          free(data);
          data = NULL;
          break;
        }
        data = nd;
        cap = ncap;
      }
      size_t got = fread(data + len, 1, cap - len, f);
      len += got;
      if (got == 0)
        break;
    }
    fclose(f);
  }
  if (data)
    infb_sha256_hex(data, len, id->exe_sha256);
  else
    snprintf(id->exe_sha256, sizeof id->exe_sha256, "(unreadable)");
  free(data);
}

/* Whether a CPU with these INFB_CPU_* features can run OpenBLAS's kernel set core. */
static int
cpu_runs(const char *core, uint32_t features)
{
  static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  static const char *const avx2[] = {"Haswell", "Zen"};
  for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
    if (strcmp(core, avx512[i]) == 0)
      return (features & INFB_CPU_AVX512_SKX) == INFB_CPU_AVX512_SKX;
  for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
    if (strcmp(core, avx2[i]) == 0)
      return (features & (INFB_CPU_AVX2 | INFB_CPU_FMA)) == (INFB_CPU_AVX2 | INFB_CPU_FMA);
  return 1; /* the SSE sets (Prescott, Sandybridge...) run on any x86-64 we build for */
}

int
infb_par_identity_check(const infb_par_identity *root, const infb_par_identity *id, int rank,
                        char *msg, size_t size)
{
  if (strcmp(root->version, id->version) != 0) {
    snprintf(msg, size,
             "rank %d on %s runs infbench %s, rank 0 on %s runs %s: every rank must run the "
             "same binary",
             rank, id->host, id->version, root->host, root->version);
    return INFB_ECONFIG;
  }
  if (strcmp(root->exe_sha256, id->exe_sha256) != 0) {
    snprintf(msg, size,
             "rank %d on %s runs another build of infbench %s than rank 0 on %s (sha256 "
             "%.12s, rank 0's %.12s): every rank must run the same binary",
             rank, id->host, id->version, root->host, id->exe_sha256, root->exe_sha256);
    return INFB_ECONFIG;
  }
  if (strcmp(root->corename, id->corename) != 0) {
    if (cpu_runs(root->corename, id->features))
      snprintf(msg, size,
               "rank %d on %s uses OpenBLAS's %s kernels and could not switch to the %s "
               "kernels of rank 0 on %s, and a result depends on the kernels: run every rank "
               "with rank 0's, e.g. mpirun -x OPENBLAS_CORETYPE=%s",
               rank, id->host, id->corename, root->corename, root->host, root->corename);
    else
      snprintf(msg, size,
               "rank %d on %s cannot run OpenBLAS's %s kernels that rank 0 on %s uses (its CPU "
               "lacks the instructions), and a result depends on the kernels: run rank 0 on "
               "such a node, or every rank with kernels all nodes have (mpirun -x "
               "OPENBLAS_CORETYPE=%s)",
               rank, id->host, root->corename, root->host, id->corename);
    return INFB_ECONFIG;
  }
  return GSL_SUCCESS;
}

#ifdef HAVE_MPI
/* The largest piece one MPI call moves (counts are int). */
#define PAR_CHUNK ((size_t)1 << 30)

/* Wait for req by polling. */
static int
par_wait(MPI_Request *req)
{
  unsigned n = 0;
  for (;;) {
    int flag = 0;
    if (MPI_Test(req, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
      return INFB_ERROR(GSL_EFAILED, "MPI: a transfer failed");
    if (flag)
      return GSL_SUCCESS;
    infb_par_nap_(&n);
  }
}
#endif

void
infb_par_nap_(unsigned *n)
{
  long ns = 20000L << (*n < 7 ? *n : 7); /* 20 µs … 2.56 ms */
  if (*n < 7)
    (*n)++;
  struct timespec ts = {0, ns};
  nanosleep(&ts, NULL);
}

#ifdef HAVE_MPI
/* Gather every rank's identity at rank 0 (all: par_size entries there, NULL elsewhere). */
static int
gather_identities(infb_par_identity *me, infb_par_identity *all)
{
  return MPI_Gather(me, sizeof *me, MPI_BYTE, all, sizeof *me, MPI_BYTE, 0, MPI_COMM_WORLD) ==
                 MPI_SUCCESS
             ? GSL_SUCCESS
             : GSL_EFAILED;
}
#endif

int
infb_par_handshake(char *msg, size_t size)
{
  msg[0] = '\0';
#ifdef HAVE_MPI
  if (!par_running)
    return GSL_SUCCESS;
  infb_par_identity me, root, *all = NULL;
  infb_par_identity_self(&me);
  if (par_rank == 0 && !(all = calloc((size_t)par_size, sizeof *all)))
    return GSL_ENOMEM;
  /* Rank 0's kernels for all: a rank whose OpenBLAS chose others (an unlike node) and
   * whose CPU can run rank 0's switches to them; the check below then finds the ranks
   * that could not. */
  root = me;
  if (MPI_Bcast(&root, sizeof root, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
    free(all);
    snprintf(msg, size, "MPI: the ranks could not exchange their identities");
    return GSL_EFAILED;
  }
  if (strcmp(me.corename, root.corename) != 0 && cpu_runs(root.corename, me.features) &&
      infb_blas_switch_coretype(root.corename) == GSL_SUCCESS)
    infb_par_identity_self(&me);
  if (gather_identities(&me, all)) {
    free(all);
    snprintf(msg, size, "MPI: the ranks could not exchange their identities");
    return GSL_EFAILED;
  }
  int verdict = GSL_SUCCESS;
  for (int r = 1; par_rank == 0 && r < par_size && !verdict; r++)
    verdict = infb_par_identity_check(&all[0], &all[r], r, msg, size);
  if (par_rank == 0 && (par_hosts = calloc((size_t)par_size, sizeof *par_hosts)))
    for (int r = 0; r < par_size; r++)
      memcpy(par_hosts[r], all[r].host, sizeof par_hosts[r]);
  free(all);
  if (MPI_Bcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
    snprintf(msg, size, "MPI: the ranks could not agree at the start");
    return GSL_EFAILED;
  }
  return verdict;
#else
  (void)size;
  return GSL_SUCCESS;
#endif
}

int
infb_par_bcast_(void *buf, size_t len)
{
#ifdef HAVE_MPI
  for (size_t off = 0; off < len; off += PAR_CHUNK) {
    size_t c = len - off < PAR_CHUNK ? len - off : PAR_CHUNK;
    MPI_Request req;
    if (MPI_Ibcast((char *)buf + off, (int)c, MPI_BYTE, 0, MPI_COMM_WORLD, &req) !=
        MPI_SUCCESS)
      return INFB_ERROR(GSL_EFAILED, "MPI: a broadcast failed");
    int st = par_wait(&req);
    if (st)
      return st;
  }
  return GSL_SUCCESS;
#else
  (void)buf;
  (void)len;
  return GSL_SUCCESS;
#endif
}

int
infb_par_send_(const void *buf, size_t len, int dest, int tag)
{
#ifdef HAVE_MPI
  if (len > INT_MAX)
    return INFB_ERROR(GSL_EINVAL, "MPI: a message of %zu bytes is too long", len);
  MPI_Request req;
  if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
    return INFB_ERROR(GSL_EFAILED, "MPI: a send to rank %d failed", dest);
  return par_wait(&req);
#else
  (void)buf;
  (void)len;
  (void)dest;
  (void)tag;
  return INFB_ERROR(GSL_EFAILED, "MPI: not built");
#endif
}

int
infb_par_tryrecv_(int from, int tag, void **buf, size_t *len, int *src)
{
#ifdef HAVE_MPI
  int flag = 0;
  MPI_Status status;
  *buf = NULL;
  if (MPI_Iprobe(from < 0 ? MPI_ANY_SOURCE : from, tag, MPI_COMM_WORLD, &flag, &status) !=
      MPI_SUCCESS)
    return INFB_ERROR(GSL_EFAILED, "MPI: probing for a message failed");
  if (!flag)
    return GSL_SUCCESS;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  void *b = malloc(count > 0 ? (size_t)count : 1);
  if (!b)
    return GSL_ENOMEM;
  if (MPI_Recv(b, count, MPI_BYTE, status.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
      MPI_SUCCESS) {
    free(b);
    return INFB_ERROR(GSL_EFAILED, "MPI: receiving from rank %d failed", status.MPI_SOURCE);
  }
  *buf = b;
  *len = (size_t)count;
  *src = status.MPI_SOURCE;
  return GSL_SUCCESS;
#else
  (void)from;
  (void)tag;
  *buf = NULL;
  (void)len;
  (void)src;
  return GSL_SUCCESS;
#endif
}
