/* The VAE gap report's per-point phases (infer/gapeval.h) cut into groups of points, as
 * jobs of par/sched.h: L[q], q*, IWAE with each proposal and AIS, each a function of a
 * group's points alone, so a group gives the same bytes on any rank (linalg/blas.h, the
 * row contract).  The cut is a function of the work: groups of G points (the report's
 * progress groups, a function of the config) for L[q], q* and IWAE, whole row tiles for
 * AIS (its points' results do not depend on the cut at all, infer/ais.h).  Internal to
 * the gap report and the serving ranks. */
#ifndef INFB_INFER_VAEGROUPS_H
#define INFB_INFER_VAEGROUPS_H

#include <stddef.h>
#include "infer/ais.h"
#include "infer/gapeval.h"
#include "infer/qstar.h"
#include "nn/vae.h"
#include "par/sched.h"

enum infb_vae_phase {
  INFB_VP_LQ = 0,          /* L[q] by Monte Carlo */
  INFB_VP_QSTAR = 1,       /* the numeric q* */
  INFB_VP_IWAE_ENCODER = 2,/* IWAE with the encoder's (or the given) q */
  INFB_VP_IWAE_QSTAR = 3,  /* IWAE with q*'s proposal */
  INFB_VP_AIS = 4,         /* forward AIS */
  INFB_VP_BDMC = 5,        /* BDMC (infer/bdmc.h): forward AIS and reverse AIS from Z */
  INFB_VP_QUADRATURE = 6   /* K = 2: ln p(x) by quadrature on one box and grid */
};

/* What any rank needs to compute a group of a phase; `set` travels as bytes (the same
 * binary on every rank, par/par.h). */
typedef struct infb_vae_groups_settings {
  int phase;
  infb_vae_arch arch;
  size_t n, first_index;   /* the report's points and the index of its first */
  size_t B, S, parts;      /* the evaluation network's batch, samples and parts */
  size_t q_samples, iwae_k;
  int has_q;               /* L[q] exists (encoder or a given q) */
  int qstar_init;          /* q* starts at MU, LV */
  int no_encoder;          /* the network's encoder is not used (MU, LV: a given q) */
  int has_mu;              /* MU, LV are part of the context */
  int has_z;               /* Z is part of the context (BDMC) */
  infb_qstar_options qstar;/* progress unused */
  infb_ais_options ais;    /* progress unused; seed set */
  size_t ntrace, trace_stride, trace_rows; /* AIS: points [0, ntrace) traced */
  double quad_L;           /* quadrature: the box [−L, L]² */
  size_t quad_n;           /* ... and its cells per axis */
  size_t blas_nc, blas_kc; /* rank 0's gemm blocking */
  int blas_threaded;       /* rank 0's gemms run on OpenBLAS's threads ([experiment]
                              parallel = blas): a serving rank's run on its own */
  size_t nparams, ngroups;
} infb_vae_groups_settings;

typedef struct infb_vae_groups {
  infb_vae_groups_settings set;
  size_t *start;            /* group g is points [start[g], start[g + 1]) (ngroups + 1) */
  infb_vae_f32 *v;          /* the evaluation network (B × S) */
  infb_vae_decoder *dec;    /* its frozen decoder (cap B·S) */
  const float *X;           /* the n points (n×D) */
  const double *Xd;         /* ... as doubles */
  const float *MU, *LV;     /* the phase's q (n×K each) or NULL */
  const double *Z;          /* BDMC: the points' exact posterior draws z* (n×K) */
  /* Rank 0's own group of q*: progress as points stop (may be NULL). */
  int (*qstar_progress)(void *ctx, size_t stopped);
  void *qstar_progress_ctx;
  int owned;                /* a serving rank's copy: everything above is owned */
} infb_vae_groups;

/* Cut phase w->set.phase's points [done, end) into groups: w->start, w->set.ngroups.
 * L[q], q*, IWAE, quadrature: at the multiples of G; AIS and BDMC: at every tiles_per_group row tiles
 * of w->set.ais.tile_points points from done's tile.  GSL_ENOMEM.
 *
 * A group's result (doubles, m points): L[q]: value, error; q*: ELBO, error, steps, stop,
 * then μ and ln σ² (m×K each); IWAE: value, error, k̂, k̂'s status; AIS: ln p̂, error,
 * ESS, acceptance, final step, status, low-ESS flag, then the traced points' traces; BDMC:
 * lower, its error, upper, its error; quadrature: ln p(x) — each a column of m. */
int infb_vae_groups_cut(infb_vae_groups *w, size_t done, size_t end, size_t G,
                        size_t tiles_per_group);

/* The most bytes one group's result takes. */
size_t infb_vae_groups_result_max(const infb_vae_groups *w);

/* par/sched.h's run and context for a job of w (self = w). */
int infb_vae_groups_run(void *self, size_t g, void *res, size_t *len);
int infb_vae_groups_context(void *self, void **buf, size_t *len);

/* Store group g's result (len bytes, as run wrote it, perhaps on another rank) into the
 * state s (and the AIS traces t, n entries or NULL).  GSL_EBADLEN when len does not fit
 * the group or the group does not fit s; GSL_EINVAL for a g of no group, a phase not kept
 * in a state (BDMC, quadrature), or a count or status that is not an integer in its
 * type's range.  s is unchanged on error. */
int infb_vae_groups_store(const infb_vae_groups *w, size_t g, const void *res, size_t len,
                          infb_gap_state *s, infb_ais_trace *t);

/* The serving ranks' kind (INFB_PAR_KIND_VAE_GAP); their threads: infb_vae_groups_threads.
 * Its setup takes exactly what infb_vae_groups_context writes: anything else (a context of
 * another length; settings of no phase, of an invalid network or one whose parameter
 * count is not the one sent, of workspaces or AIS tiles larger than this node's memory, of
 * more traced points than points; groups out of order or past n; a phase without the MU,
 * LV or Z it reads) is refused with GSL_EBADLEN or GSL_EINVAL and a message, before
 * anything is allocated from the sizes it gives. */
extern const infb_par_kind infb_vae_groups_kind;
/* The threads a serving rank's network runs on (its --threads; default 1). */
void infb_vae_groups_set_threads(size_t threads);

#endif
