/* Groups of work handed out to ranks as they finish (par/par.h).
 *
 * A job is a phase of per-point work cut into groups, the cut a function of the work
 * alone (linalg/blas.h, the row contract), so a group's result is the same bytes
 * whichever rank computes it.  Rank 0 runs the job: with one rank it computes the groups
 * in order; with several, a dispatcher thread hands groups to the other ranks one at a
 * time as they answer, while rank 0's own thread computes groups too.  Every result is
 * committed on rank 0's calling thread (in the order the results arrive: a commit stores
 * a group's results at its own points, so order cannot matter), and everything computed
 * from them afterwards is computed there, in point order.
 *
 * The other ranks serve (infb_par_serve): they receive the job's context once, then
 * compute the groups they are given with the functions of their kind's entry.
 *
 * Faults: a group that fails on a rank fails the job with the rank's message; a rank that
 * does not answer within max(the timeout, 4 × the slowest group so far) fails it naming
 * the rank, its node and the group.  A job that fails with groups still out leaves the
 * ranks busy: rank 0 must then end with infb_par_abort, not infb_par_release. */
#ifndef INFB_PAR_SCHED_H
#define INFB_PAR_SCHED_H

#include <stddef.h>

typedef struct infb_par_job {
  int kind;                /* which infb_par_kind computes it on the other ranks */
  const char *what;        /* e.g. "vae: L[q], train" (messages, the schedule log) */
  size_t ngroups;          /* groups 0 … ngroups − 1 */
  size_t result_max;       /* bytes one group's result takes at most */
  /* The context a rank needs to compute any group (called on rank 0 only when several
   * ranks run): *buf (malloc'ed; freed by the scheduler) and *len. */
  int (*context)(void *work, void **buf, size_t *len);
  /* Compute group g into res (room for result_max bytes), its length in *len. */
  int (*run)(void *work, size_t g, void *res, size_t *len);
  void *work;              /* passed to context and run: what computes the groups */
  /* Store group g's result (rank 0's calling thread); nonzero stops the job with it
   * (INFB_EINTR from a progress callback: interrupted). */
  int (*commit)(void *self, size_t g, const void *res, size_t len);
  void *self;              /* passed to commit: where the results go */
} infb_par_job;

/* A kind of job, as the serving ranks compute it. */
typedef struct infb_par_kind {
  int kind;
  /* Build what run needs from the context rank 0 sent; *self is passed to run. */
  int (*setup)(const void *ctx, size_t len, void **self);
  int (*run)(void *self, size_t g, void *res, size_t *len);
  void (*teardown)(void *self); /* NULL self allowed */
} infb_par_kind;

/* A group's result travels as bytes of doubles, its counts and statuses too; rank 0 reads
 * them back with these: v as a count (an integer in [0, SIZE_MAX]) or as an int (an
 * integer in int's range) into *out.  Nonzero, *out untouched, when v is not one (NaN,
 * ±inf, a fraction, out of range): the bytes are not what run wrote. */
int infb_par_result_count(double v, size_t *out);
int infb_par_result_int(double v, int *out);

/* Kinds of job (infb_par_kind.kind). */
enum { INFB_PAR_KIND_VAE_GAP = 1, INFB_PAR_KIND_LG_GAP = 2, INFB_PAR_KIND_MAX = 8 };

/* Where each group ran: rank (−1: not computed), the seconds it took on that rank, and
 * when it started (seconds after the job began, on rank 0's clock). */
typedef struct infb_par_group_stat {
  int rank;
  double seconds, start;
} infb_par_group_stat;

/* Run job (rank 0).  Returns GSL_SUCCESS once every group is committed, or the first
 * failure (a rank's own error, with its message; a commit's status; a timeout). */
int infb_par_job_run(const infb_par_job *job);

/* Ranks other than 0: serve jobs with the kinds given until rank 0 releases them, with
 * the exit code it sent in *code.  Returns a status: nonzero when MPI failed under us
 * (then abort). */
int infb_par_serve(const infb_par_kind *kinds, size_t nkinds, int *code);

/* Rank 0, at the end: tell the serving ranks to end with exit code `code`.  Returns a
 * status; GSL_EFAILED when a failed job left ranks busy (then call infb_par_abort). */
int infb_par_release(int code);

/* The most ranks that had no group in a job so far (0: none), with that job's name and
 * its number of groups: more ranks than a job has groups leaves some idle, which is fine
 * but worth a note. */
int infb_par_idle(const char **job, size_t *groups);

/* The shortest wait for a group before a rank counts as lost (seconds; default 600). */
void infb_par_set_timeout(double seconds);

/* Called by infb_par_job_run on rank 0 after each job (also one that failed) with its
 * groups' stats (ngroups of them), e.g. to append them to the run's schedule.log. */
typedef void (*infb_par_log_fn)(void *ctx, const infb_par_job *job,
                                const infb_par_group_stat *stats, double seconds);
void infb_par_set_log(infb_par_log_fn fn, void *ctx);

#endif
