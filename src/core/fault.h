/* Fault injection, a testing aid (infbench(1), ENVIRONMENT): named points where a run
 * must survive a fault, and two environment variables that act at one of them.
 *
 *   INFBENCH_KILL_AT=POINT[:N]    the N-th time (default 1) the process reaches POINT, it
 *                                 sends itself SIGKILL (kill -9 at a known moment);
 *   INFBENCH_PAUSE_AT=POINT[:N]   there it waits for a handshake on the FIFO named by
 *                                 INFBENCH_PAUSE_FIFO: it writes "POINT N PID\n" to it,
 *                                 then reads it to end of file and goes on (a test changes
 *                                 the run directory in between: removes it, makes it
 *                                 read-only, fills its disk; or signals PID).
 *
 * The points (INFB_FAULT_POINTS lists their names):
 *   train-step        after each minibatch step of VAE training (amortized, map and
 *                     meanfield on the VAE): mid-epoch unless N is a multiple of the
 *                     steps per epoch;
 *   checkpoint-write  while a VAE checkpoint is written: its header and trainer block in
 *                     the temporary file (flushed), the parameters not yet, no rename;
 *   file-write        in every atomic write (core/atomicfile.h: config.ini, stage
 *                     records, checkpoints, TSVs, scripts, results.json): the temporary
 *                     file written and flushed, not yet renamed into place;
 *   gap-group         between two groups of points of a VAE gap report (L[q], q*, IWAE
 *                     with either proposal), the finished group's results recorded;
 *   par-group         on a rank other than 0 under MPI (par/sched.h): a group computed,
 *                     its result not yet sent to rank 0.
 *
 * The environment is read once, by infb_fault_init or at the first point reached; with
 * neither variable set a point costs a load and a branch.  Points are reached from the
 * thread that drives the run (the counts are not atomic). */
#ifndef INFB_CORE_FAULT_H
#define INFB_CORE_FAULT_H

#include <stdio.h>

/* The point names, comma-separated, for messages. */
#define INFB_FAULT_POINTS "train-step, checkpoint-write, file-write, gap-group, par-group"

/* Read the environment.  Returns GSL_SUCCESS (neither variable set, or a valid one), or
 * INFB_ECONFIG with a message naming the variable: a malformed value, an unknown point,
 * both variables at once, or INFBENCH_PAUSE_AT without INFBENCH_PAUSE_FIFO.  An invalid
 * setting arms nothing. */
int infb_fault_init(void);

/* Internal: -1 before the environment is read, 0 when nothing is armed, 1 when armed. */
extern int infb_fault_armed_;
void infb_fault_reach_(const char *name, FILE *fp);

/* Point `name` is reached: kill or pause here when the environment says so. */
static inline void
infb_fault_point(const char *name)
{
  if (__builtin_expect(infb_fault_armed_ != 0, 0))
    infb_fault_reach_(name, NULL);
}

/* The same where fp holds a partly written file: fp is flushed before the kill or the
 * pause, so the bytes written so far are on disk. */
static inline void
infb_fault_point_stream(const char *name, FILE *fp)
{
  if (__builtin_expect(infb_fault_armed_ != 0, 0))
    infb_fault_reach_(name, fp);
}

#endif
