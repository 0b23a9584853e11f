/* The linear-Gaussian gap report's per-point Monte Carlo (infer/gapeval.h) in groups of
 * points, as jobs of par/sched.h: for each point the Monte-Carlo L[q] of the encoder's q
 * (when asked) and the numeric q*, a function of the group's points alone, so a group
 * gives the same bytes on any rank.  The exact quantities stay on rank 0 (closed forms,
 * cheap).  Internal to the gap report and the serving ranks. */
#ifndef INFB_INFER_LGGROUPS_H
#define INFB_INFER_LGGROUPS_H

#include <stddef.h>
#include "infer/qstar.h"
#include "model/lingauss.h"
#include "par/sched.h"

/* What any rank needs for a group; `set` travels as bytes (the same binary everywhere). */
typedef struct infb_lg_groups_settings {
  size_t D, K, n, first_index;
  int ppca;
  int q_mc;                /* the Monte-Carlo L[q] of the encoder's q (EMU, ELV) */
  int numeric;             /* the numeric q* */
  int init_given;          /* q* starts at EMU, ELV */
  size_t q_samples;
  infb_qstar_options qstar;/* progress unused */
  size_t G, ngroups;       /* group g: points [gG, min(n, (g + 1)G)) */
} infb_lg_groups_settings;

typedef struct infb_lg_groups {
  infb_lg_groups_settings set;
  const infb_lingauss *m;  /* the fitted model */
  const double *X;         /* n×D */
  const double *EMU, *ELV; /* the encoder's q (n×K each) or NULL */
  int owned;               /* a serving rank's copy: everything above is owned */
} infb_lg_groups;

/* Doubles per point of a group's result: L[q] and its error, then q*'s ELBO, its error,
 * steps and stopping reason (NAN where not computed). */
#define INFB_LG_GROUPS_PER_POINT 6

/* par/sched.h's run and context for a job of w (self = w). */
int infb_lg_groups_run(void *self, size_t g, void *res, size_t *len);
int infb_lg_groups_context(void *self, void **buf, size_t *len);

/* The serving ranks' kind (INFB_PAR_KIND_LG_GAP).  Its setup takes exactly what
 * infb_lg_groups_context writes: anything else (a context of another length, dimensions
 * other than 1 ≤ K < D, a group count other than ⌈n/G⌉, L[q] or q*'s start without the
 * encoder's q) is refused with GSL_EBADLEN or GSL_EINVAL and a message, before anything
 * is allocated from the sizes it gives. */
extern const infb_par_kind infb_lg_groups_kind;

#endif
