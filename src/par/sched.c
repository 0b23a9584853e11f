/* Groups of work handed out to ranks (see sched.h). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "par/sched.h"
#include "par/par.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fault.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Message tags, and the header every job starts with (broadcast). */
enum { TAG_TASK = 11, TAG_RESULT = 12 };
enum { CMD_JOB = 1, CMD_STOP = 2 };
#define PAR_MAGIC 0x696e6662u /* "infb" */
#define TASK_END UINT64_MAX
/* The floor of the timeout is at least this many times the slowest group so far. */
#define TIMEOUT_SLOWEST 4.0

typedef struct job_header {
  uint32_t magic;
  int32_t cmd, kind, code;
  uint64_t ctx_len, ngroups, result_max;
} job_header;

/* A result message: this header, then the result (or, when status is nonzero, the
 * rank's error message). */
typedef struct result_header {
  uint64_t group;
  int32_t status, pad;
  double seconds;
} result_header;

static double par_timeout = 600.0;
static infb_par_log_fn par_log;
static void *par_log_ctx;
static int par_dirty; /* a failed job left ranks busy */
/* The most ranks a job had no group for, and that job's name and groups. */
static int idle_most;
static char idle_job[128];
static size_t idle_groups;

void
infb_par_set_timeout(double seconds)
{
  par_timeout = seconds > 0 ? seconds : 600.0;
}

void
infb_par_set_log(infb_par_log_fn fn, void *ctx)
{
  par_log = fn;
  par_log_ctx = ctx;
}

/* ------------------------------------------------------------------ one rank */

static int
run_alone(const infb_par_job *job, infb_par_group_stat *stats, double t0)
{
  void *res = malloc(job->result_max ? job->result_max : 1);
  if (!res)
    return GSL_ENOMEM;
  int st = GSL_SUCCESS;
  for (size_t g = 0; !st && g < job->ngroups; g++) {
    size_t len = 0;
    double t = infb_clock_seconds();
    stats[g].start = t - t0;
    st = job->run(job->work, g, res, &len);
    stats[g].seconds = infb_clock_seconds() - t;
    if (!st) {
      stats[g].rank = 0;
      st = job->commit(job->self, g, res, len);
    }
  }
  free(res);
  return st;
}

/* ------------------------------------------------------------------ rank 0 of many */

/* What rank 0's two threads share. */
typedef struct shared {
  pthread_mutex_t mu;
  const infb_par_job *job;
  size_t next;              /* the next group to hand out */
  int stop;                 /* main → dispatcher: hand out nothing more, return */
  int failed;               /* dispatcher → main: a rank failed or timed out */
  char msg[512];            /* ... and why */
  /* Results that arrived, in arrival order: groups, buffers, lengths. */
  size_t *arrived, narrived, ntaken;
  void **buf;
  size_t *len;
  infb_par_group_stat *stats;
  double t0, slowest;
  int size;
} shared;

/* The dispatcher: hands groups to ranks 1 … size − 1 and receives their results. */
static void *
dispatch(void *arg)
{
  shared *s = arg;
  const int n = s->size;
  uint64_t *busy = calloc((size_t)n, sizeof *busy);
  double *since = calloc((size_t)n, sizeof *since);
  int nbusy = 0, st = GSL_SUCCESS;
  char msg[512] = "";
  if (!busy || !since)
    st = GSL_ENOMEM;
  for (int r = 1; r < n && !st; r++)
    busy[r] = TASK_END;
  unsigned nap = 0;
  for (;;) {
    /* Hand a group to every idle rank while there are groups. */
    for (int r = 1; r < n && !st; r++) {
      if (busy[r] != TASK_END)
        continue;
      pthread_mutex_lock(&s->mu);
      uint64_t g = !s->stop && s->next < s->job->ngroups ? s->next++ : TASK_END;
      pthread_mutex_unlock(&s->mu);
      if (g == TASK_END)
        break;
      since[r] = infb_clock_seconds();
      s->stats[g].start = since[r] - s->t0;
      if ((st = infb_par_send_(&g, sizeof g, r, TAG_TASK)))
        snprintf(msg, sizeof msg, "could not send group %llu of %s to rank %d",
                 (unsigned long long)g, s->job->what, r);
      busy[r] = g;
      nbusy++;
    }
    pthread_mutex_lock(&s->mu);
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    if (st || stop || nbusy == 0)
      break;
    void *b = NULL;
    size_t len = 0;
    int src = -1;
    if ((st = infb_par_tryrecv_(-1, TAG_RESULT, &b, &len, &src))) {
      snprintf(msg, sizeof msg, "MPI: receiving a result of %s failed", s->job->what);
      break;
    }
    if (!b) {
      /* Nothing yet: a rank out for longer than the timeout is lost. */
      double now = infb_clock_seconds();
      pthread_mutex_lock(&s->mu);
      double limit = s->slowest * TIMEOUT_SLOWEST;
      pthread_mutex_unlock(&s->mu);
      if (limit < par_timeout)
        limit = par_timeout;
      for (int r = 1; r < n && !st; r++)
        if (busy[r] != TASK_END && now - since[r] > limit) {
          st = GSL_EFAILED;
          snprintf(msg, sizeof msg,
                   "rank %d on %s did not answer for group %llu of %s within %.0f s (the "
                   "timeout: [experiment] group_timeout, or %.0f× the slowest group); the "
                   "groups recorded so far are kept: --resume goes on",
                   r, infb_par_host(r), (unsigned long long)busy[r], s->job->what, limit,
                   TIMEOUT_SLOWEST);
        }
      if (st)
        break;
      infb_par_nap_(&nap);
      continue;
    }
    nap = 0;
    result_header h;
    if (len < sizeof h || src < 1 || src >= n) {
      free(b);
      st = GSL_EFAILED;
      snprintf(msg, sizeof msg, "a malformed result of %s from rank %d", s->job->what, src);
      break;
    }
    memcpy(&h, b, sizeof h);
    if (h.group != busy[src]) {
      free(b);
      st = GSL_EFAILED;
      snprintf(msg, sizeof msg, "rank %d answered for group %llu of %s, not the one it was given",
               src, (unsigned long long)h.group, s->job->what);
      break;
    }
    busy[src] = TASK_END;
    nbusy--;
    if (h.status) {
      st = h.status;
      snprintf(msg, sizeof msg, "rank %d on %s, group %llu of %s: %.*s", src,
               infb_par_host(src), (unsigned long long)h.group, s->job->what, (int)(len - sizeof h),
               (char *)b + sizeof h);
      free(b);
      break;
    }
    memmove(b, (char *)b + sizeof h, len - sizeof h); /* the result alone */
    len -= sizeof h;
    pthread_mutex_lock(&s->mu);
    s->stats[h.group].rank = src;
    s->stats[h.group].seconds = h.seconds;
    if (h.seconds > s->slowest)
      s->slowest = h.seconds;
    s->buf[h.group] = b;
    s->len[h.group] = len;
    s->arrived[s->narrived++] = h.group;
    pthread_mutex_unlock(&s->mu);
  }
  if (!st && nbusy == 0) {
    /* Clean: every rank idle; end the job on all of them. */
    uint64_t end = TASK_END;
    for (int r = 1; r < n && !st; r++)
      if ((st = infb_par_send_(&end, sizeof end, r, TAG_TASK)))
        snprintf(msg, sizeof msg, "could not end %s on rank %d", s->job->what, r);
  } else if (!st) {
    par_dirty = 1; /* stopped by rank 0 with groups out */
  }
  if (st) {
    par_dirty = 1;
    pthread_mutex_lock(&s->mu);
    s->failed = st;
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    pthread_mutex_unlock(&s->mu);
  }
  free(busy);
  free(since);
  return NULL;
}

static int
run_many(const infb_par_job *job, infb_par_group_stat *stats, double t0)
{
  const size_t G = job->ngroups;
  void *ctx = NULL;
  size_t ctx_len = 0;
  int st = job->context(job->work, &ctx, &ctx_len);
  if (st)
    return st;
  job_header h = {PAR_MAGIC, CMD_JOB, job->kind, 0, ctx_len, G, job->result_max};
  if ((st = infb_par_bcast_(&h, sizeof h)) || (st = infb_par_bcast_(ctx, ctx_len))) {
    free(ctx);
    return st;
  }
  free(ctx);
  if (G < (size_t)infb_par_size() && infb_par_size() - (int)G > idle_most) {
    idle_most = infb_par_size() - (int)G;
    snprintf(idle_job, sizeof idle_job, "%s", job->what);
    idle_groups = G;
  }
  shared s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  s.job = job;
  s.stats = stats;
  s.t0 = t0;
  s.size = infb_par_size();
  s.arrived = infb_calloc(G ? G : 1, sizeof *s.arrived);
  s.buf = infb_calloc(G ? G : 1, sizeof *s.buf);
  s.len = infb_calloc(G ? G : 1, sizeof *s.len);
  void *res = infb_malloc(job->result_max ? job->result_max : 1, 1);
  pthread_t thread;
  if (!s.arrived || !s.buf || !s.len || !res) {
    st = GSL_ENOMEM;
    par_dirty = 1; /* the ranks are set up for a job that will not come */
  } else if (pthread_create(&thread, NULL, dispatch, &s) != 0) {
    st = INFB_ERROR(GSL_EFAILED, "cannot start the dispatcher thread");
    par_dirty = 1;
  } else {
    size_t committed = 0;
    unsigned nap = 0;
    while (!st && committed < G) {
      /* Commit what arrived. */
      pthread_mutex_lock(&s.mu);
      size_t g = s.ntaken < s.narrived ? s.arrived[s.ntaken++] : TASK_END;
      int failed = s.failed;
      pthread_mutex_unlock(&s.mu);
      if (failed) {
        st = INFB_ERROR(failed, "%s", s.msg);
        break;
      }
      if (g != TASK_END) {
        st = job->commit(job->self, g, s.buf[g], s.len[g]);
        pthread_mutex_lock(&s.mu);
        free(s.buf[g]);
        s.buf[g] = NULL;
        pthread_mutex_unlock(&s.mu);
        committed++;
        nap = 0;
        continue;
      }
      /* Compute one ourselves. */
      pthread_mutex_lock(&s.mu);
      g = s.next < G ? s.next++ : TASK_END;
      pthread_mutex_unlock(&s.mu);
      if (g != TASK_END) {
        size_t len = 0;
        double t = infb_clock_seconds();
        stats[g].start = t - t0;
        st = job->run(job->work, g, res, &len);
        double sec = infb_clock_seconds() - t;
        pthread_mutex_lock(&s.mu);
        stats[g].seconds = sec;
        stats[g].rank = 0;
        if (sec > s.slowest)
          s.slowest = sec;
        pthread_mutex_unlock(&s.mu);
        if (!st)
          st = job->commit(job->self, g, res, len);
        committed++;
        nap = 0;
        continue;
      }
      infb_par_nap_(&nap);
    }
    pthread_mutex_lock(&s.mu);
    s.stop = 1;
    pthread_mutex_unlock(&s.mu);
    pthread_join(thread, NULL);
    if (!st && s.failed)
      st = INFB_ERROR(s.failed, "%s", s.msg);
  }
  for (size_t g = 0; s.buf && g < G; g++)
    free(s.buf[g]);
  free(s.arrived);
  free(s.buf);
  free(s.len);
  free(res);
  pthread_mutex_destroy(&s.mu);
  return st;
}

int
infb_par_job_run(const infb_par_job *job)
{
  infb_par_group_stat *stats = infb_calloc(job->ngroups ? job->ngroups : 1, sizeof *stats);
  if (!stats)
    return GSL_ENOMEM;
  for (size_t g = 0; g < job->ngroups; g++)
    stats[g] = (infb_par_group_stat){-1, 0.0, 0.0};
  double t0 = infb_clock_seconds();
  if (infb_par_active() && par_dirty) {
    free(stats);
    return INFB_ERROR(GSL_EFAILED,
                      "%s: not started: the other ranks are still busy with a job that failed; "
                      "the run stops here (--resume goes on)", job->what);
  }
  int st = infb_par_active() && job->ngroups > 0 ? run_many(job, stats, t0)
                                                  : run_alone(job, stats, t0);
  if (par_log)
    par_log(par_log_ctx, job, stats, infb_clock_seconds() - t0);
  free(stats);
  return st;
}

/* ------------------------------------------------------------------ the other ranks */

/* Receive the next task from rank 0 (waiting by polling). */
static int
next_task(uint64_t *g)
{
  unsigned nap = 0;
  for (;;) {
    void *b = NULL;
    size_t len = 0;
    int src = -1;
    int st = infb_par_tryrecv_(0, TAG_TASK, &b, &len, &src);
    if (st)
      return st;
    if (b) {
      if (len != sizeof *g) {
        free(b);
        return INFB_ERROR(GSL_EFAILED, "MPI: a malformed task from rank 0");
      }
      memcpy(g, b, sizeof *g);
      free(b);
      return GSL_SUCCESS;
    }
    infb_par_nap_(&nap);
  }
}

int
infb_par_serve(const infb_par_kind *kinds, size_t nkinds, int *code)
{
  *code = 0;
  for (;;) {
    job_header h;
    int st = infb_par_bcast_(&h, sizeof h);
    if (st)
      return st;
    if (h.magic != PAR_MAGIC)
      return INFB_ERROR(GSL_EFAILED, "MPI: a malformed job header from rank 0");
    if (h.cmd == CMD_STOP) {
      *code = h.code;
      return GSL_SUCCESS;
    }
    void *ctx = malloc(h.ctx_len ? h.ctx_len : 1);
    if (!ctx)
      return GSL_ENOMEM; /* rank 0 is in the broadcast: the caller aborts */
    if ((st = infb_par_bcast_(ctx, h.ctx_len))) {
      free(ctx);
      return st;
    }
    const infb_par_kind *k = NULL;
    for (size_t i = 0; i < nkinds; i++)
      if (kinds[i].kind == h.kind)
        k = &kinds[i];
    void *self = NULL;
    infb_error_clear();
    int setup = k ? k->setup(ctx, h.ctx_len, &self)
                  : INFB_ERROR(GSL_EFAILED, "no such kind of job (%d)", (int)h.kind);
    char setup_msg[256];
    snprintf(setup_msg, sizeof setup_msg, "%s", infb_error_message());
    free(ctx);
    char *msg = malloc(sizeof(result_header) + (h.result_max > 512 ? h.result_max : 512));
    if (!msg) {
      if (k)
        k->teardown(self);
      return GSL_ENOMEM;
    }
    for (;;) {
      uint64_t g = TASK_END;
      if ((st = next_task(&g)))
        break;
      if (g == TASK_END)
        break;
      result_header rh = {g, setup, 0, 0.0};
      size_t len = 0;
      double t = infb_clock_seconds();
      if (!setup) {
        infb_error_clear();
        rh.status = k->run(self, (size_t)g, msg + sizeof rh, &len);
      }
      rh.seconds = infb_clock_seconds() - t;
      if (rh.status) {
        const char *why = setup ? setup_msg : infb_error_message();
        if (!*why)
          why = infb_strerror(rh.status);
        len = strlen(why);
        if (len > 511)
          len = 511;
        memcpy(msg + sizeof rh, why, len);
      }
      memcpy(msg, &rh, sizeof rh);
      infb_fault_point("par-group");
      if ((st = infb_par_send_(msg, sizeof rh + len, 0, TAG_RESULT)))
        break;
    }
    free(msg);
    if (k)
      k->teardown(self);
    if (st)
      return st;
  }
}

int
infb_par_result_count(double v, size_t *out)
{
  /* Below (double)SIZE_MAX (2^64 where size_t has 64 bits), v converts; NaN fails. */
  if (!(v >= 0.0 && v < (double)SIZE_MAX && v == floor(v)))
    return 1;
  *out = (size_t)v;
  return 0;
}

int
infb_par_result_int(double v, int *out)
{
  if (!(v >= INT_MIN && v <= INT_MAX && v == floor(v)))
    return 1;
  *out = (int)v;
  return 0;
}

int
infb_par_idle(const char **job, size_t *groups)
{
  *job = idle_job;
  *groups = idle_groups;
  return idle_most;
}

int
infb_par_release(int code)
{
  if (!infb_par_active())
    return GSL_SUCCESS;
  if (par_dirty)
    return GSL_EFAILED;
  job_header h = {PAR_MAGIC, CMD_STOP, 0, code, 0, 0, 0};
  return infb_par_bcast_(&h, sizeof h);
}
