/* Ranks: infbench as one process, or as N processes started by an MPI launcher (Open
 * MPI's mpirun, or Slurm's srun with PMIx).  Rank 0 reads the config, writes every output
 * and hands groups of points to the others (par/sched.h); the others compute.
 *
 * A build without MPI (configure --with-mpi=no), or a process that no launcher started,
 * is rank 0 of 1 and never touches MPI: a plain `infbench run` behaves the same in both
 * builds.  Every transfer here waits by polling with short sleeps, never by MPI's busy
 * wait: a rank waiting for work must not take the core its neighbour computes on. */
#ifndef INFB_PAR_PAR_H
#define INFB_PAR_PAR_H

#include <stddef.h>
#include <stdint.h>

/* How many ranks a launcher says it started, from the environment env (getenv, or a
 * test's): OMPI_COMM_WORLD_SIZE (Open MPI's mpirun); else, when PMIX_RANK or PMI_RANK says
 * a launcher (srun) started it, SLURM_STEP_NUM_TASKS, or 2 ("several") for a rank other
 * than 0, or −1 (unknown until MPI starts); 0 when no launcher started this process.  A
 * pure function of env. */
long infb_par_launched_size(const char *(*env)(const char *name));

/* Nonzero when this build has MPI. */
int infb_par_built(void);

/* "Open MPI v4.1.4, ..." (MPI_Get_library_version, first line) or "no (built without
 * MPI)" — for --version and the provenance block. */
const char *infb_par_describe(void);

/* Start: with MPI built and a launcher's environment, MPI_Init_thread (threads
 * serialised: only one thread at a time calls MPI).  Returns GSL_SUCCESS, or GSL_EFAILED
 * with a message (the launcher started several ranks of a build without MPI, or MPI
 * would not start).  Call once, after the environment's re-execution (cli/cli.h). */
int infb_par_init(int *argc, char ***argv);
/* Rank 0, after infb_par_handshake: the node rank runs on ("(unknown node)" otherwise). */
const char *infb_par_host(int rank);
/* This process's rank (0 when MPI is not running) and the number of ranks (1). */
int infb_par_rank(void);
int infb_par_size(void);
/* Nonzero when MPI runs with more than one rank. */
int infb_par_active(void);
/* MPI_Finalize when MPI runs (then every rank must call it). */
void infb_par_finalize(void);
/* Stop every rank now with exit code `code` (MPI_Abort, which does not return) when MPI
 * runs; otherwise return (the caller exits). */
void infb_par_abort(int code);

/* What each rank must agree on with rank 0, checked at the start (infb_par_handshake). */
typedef struct infb_par_identity {
  char version[32];        /* PACKAGE_VERSION */
  char exe_sha256[65];     /* of /proc/self/exe: the same binary */
  char corename[32];       /* OpenBLAS's kernel set in force */
  uint32_t features;       /* INFB_CPU_* bits of this CPU (linalg/blas.h) */
  char host[64];           /* the node's name, for messages */
} infb_par_identity;

/* Fill id for this process. */
void infb_par_identity_self(infb_par_identity *id);

/* The verdict on a rank's identity against rank 0's, a pure function of its inputs:
 *   GSL_SUCCESS   the same version, binary and kernel set;
 *   INFB_ECONFIG  different (msg says what, naming the rank's node): another version or
 *                 binary is refused; another kernel set too, since a gemm row's value
 *                 depends on the kernels (linalg/blas.h) — the message says whether
 *                 the node's CPU can run rank 0's set (then `mpirun -x
 *                 OPENBLAS_CORETYPE=SET` makes every rank use it) or cannot. */
int infb_par_identity_check(const infb_par_identity *root, const infb_par_identity *id,
                            int rank, char *msg, size_t size);

/* Every rank at the start of a run: rank 0's kernel set is sent to every rank, and a rank
 * whose OpenBLAS chose another and whose CPU can run rank 0's switches to it
 * (infb_blas_switch_coretype); then rank 0 gathers every rank's identity and checks it
 * (above).  All ranks return the same status, rank 0 with the first failure's message in
 * msg.  Without MPI: GSL_SUCCESS. */
int infb_par_handshake(char *msg, size_t size);

/* Internal to src/par: MPI transfers that wait by polling (par.c), for sched.c. */
int infb_par_bcast_(void *buf, size_t len);
int infb_par_send_(const void *buf, size_t len, int dest, int tag);
/* Receive a message with tag from rank `from` (< 0: any rank) if one has arrived: *buf
 * (malloc'ed; the caller frees it), *len and *src set, or *buf NULL when none has.
 * Returns a status; never waits. */
int infb_par_tryrecv_(int from, int tag, void **buf, size_t *len, int *src);
/* Sleep for the poll interval, growing from 20 µs to 2 ms over successive calls (*n
 * counts them; set it to 0 after a success). */
void infb_par_nap_(unsigned *n);

#endif
