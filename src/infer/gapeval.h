/* The gap report of Cremer, Li & Duvenaud (2018), MATH.md §6: for each point x_i,
 *   ln p(x_i), L[q*] (the best fully factorised Gaussian, decoder frozen) and L[q] (the
 *   encoder's q), and the approximation gap ln p(x) − L[q*], the amortisation gap
 *   L[q*] − L[q] and the inference gap ln p(x) − L[q],
 * summarised over points as mean, standard error of the mean and n (a gap's standard
 * error is that of the paired per-point differences); a Monte-Carlo quantity adds its
 * Monte-Carlo error mc_se.  For the linear-Gaussian model every quantity is exact
 * ("log_px_method": "exact"); q* is also found numerically (the VAE's code path) and the
 * two must agree. */
#ifndef INFB_INFER_GAPEVAL_H
#define INFB_INFER_GAPEVAL_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>
#include "infer/qstar.h"
#include "model/lingauss.h"

/* An amortised encoder: q(z|x_i) = N(MU_i, diag exp(LV_i)) for the n rows of X (n×D,
 * row-major) into MU, LV (n×K).  Returns a status. */
typedef struct infb_encoder {
  size_t D, K;
  int (*fn)(void *self, size_t n, const double *X, double *MU, double *LV);
  void *self;
} infb_encoder;

/* A summary over points. */
typedef struct infb_stat {
  double mean;   /* mean over the n points */
  double se;     /* standard error of the mean (sd/√n, sd with n − 1; 0 when n = 1) */
  size_t n;      /* points */
  double mc_se;  /* Monte-Carlo standard error of the mean (√Σ mc_se_i² / n); NAN when the
                    quantity is exact */
} infb_stat;

/* Mean, se and n of v[0..n); mc (may be NULL) holds per-point Monte-Carlo errors. */
void infb_stat_of(const double *v, const double *mc, size_t n, infb_stat *out);

/* The kinds of an ln p(x) estimate. */
enum infb_logpx_kind {
  INFB_LOGPX_EXACT = 0,      /* closed form, or a converged quadrature */
  INFB_LOGPX_LOWER = 1,      /* a stochastic lower bound: IWAE (any proposal), forward AIS */
  INFB_LOGPX_UPPER = 2,      /* a stochastic upper bound: reverse AIS (simulated data) */
  INFB_LOGPX_DIAGNOSTIC = 3  /* shown, never chosen: e.g. the per-point max of two IWAEs */
};
/* "exact", "lower-bound", "upper-bound", "diagnostic". */
const char *infb_logpx_kind_name(int kind);

/* The most ln p(x) methods a report holds, and per-point diagnostics per method. */
#define INFB_GAP_MAX_METHODS 8
#define INFB_GAP_MAX_EXTRAS 8

/* One ln p(x) method of a gap report: its per-point values on the first n of the report's
 * points (AIS may run on fewer), their Monte-Carlo errors (NAN when exact) and named
 * per-point diagnostics (IWAE: "khat", "khat_status"; AIS: "ess", "low_ess", "accept",
 * "step", "status"), summarised over the points where the value is finite. */
typedef struct infb_logpx_method {
  const char *name;              /* "exact", "quadrature", "iwae-encoder", "iwae-qstar",
                                    "iwae-max", "ais" (a static string) */
  int kind;                      /* enum infb_logpx_kind */
  const char *note;              /* NULL, or a caveat ("approximate: online step sizes") */
  size_t n;                      /* points covered: the report's first n */
  double *value, *mc_se;         /* n each (owned) */
  size_t nextra;
  const char *extra_name[INFB_GAP_MAX_EXTRAS]; /* static strings */
  double *extra[INFB_GAP_MAX_EXTRAS];          /* n each (owned) */
  infb_stat stat;                /* over the finite values: mean, se, n, mc_se */
} infb_logpx_method;

/* The most variational families a report holds. */
#define INFB_GAP_MAX_FAMILIES 4

/* One variational family's L[q*] (the best member of the family per point, the decoder
 * frozen): its per-point values on the report's n points, their Monte-Carlo errors (NAN
 * when exact) and its summary.  Today one family, "ffg" (the fully factorised Gaussian of
 * infer/qstar.h, the family of the encoder's q, so L[q*] − L[q] is the amortisation gap); a
 * richer family (full covariance, flows: MATH.md) adds a row, and its approximation gap
 * ln p̂(x) − L[q*_family] beside ffg's. */
typedef struct infb_qstar_family {
  const char *name;              /* "ffg" (a static string) */
  const char *note;              /* NULL, or how it was found ("closed form", "numeric") */
  size_t n;                      /* the report's points */
  double *value, *mc_se;         /* n each (owned) */
  infb_stat stat;                /* over the finite values */
} infb_qstar_family;

/* One point's numbers (NAN where not applicable). */
typedef struct infb_gap_point {
  double log_px;                 /* ln p(x): exact, or an estimate (see log_px_method) */
  double log_px_mc_se;           /* its Monte-Carlo error (NAN when exact) */
  double log_px_quadrature;      /* VAE with K = 2: ln p(x) by quadrature (NAN otherwise) */
  double elbo_qstar;             /* L[q*] in closed form */
  double elbo_qstar_numeric;     /* L[q*] of the numeric optimum, Monte-Carlo estimate */
  double elbo_qstar_numeric_mc_se; /* its Monte-Carlo error */
  double elbo_q;                 /* L[q] of the encoder (closed form) */
  double elbo_q_mc;              /* L[q] by Monte Carlo, the estimator the VAE must use */
  double elbo_q_mc_se;           /* its Monte-Carlo error */
  double approximation_gap;      /* ln p(x) − L[q*] */
  double amortization_gap;       /* L[q*] − L[q] */
  double inference_gap;          /* ln p(x) − L[q] */
  size_t qstar_steps;            /* numeric q*: Adam steps */
  int qstar_stop;                /* numeric q*: INFB_QSTAR_* */
} infb_gap_point;

typedef struct infb_gap_options {
  int numeric_qstar;             /* also optimise q* numerically */
  int qstar_init_encoder;        /* start the numeric q* at the encoder's q (if any) */
  size_t q_samples;              /* > 0: also estimate L[q] by Monte Carlo with this many
                                    samples per point (streams ("evaluate/q", index)) */
  infb_qstar_options qstar;      /* its settings (qstar.seed is used) */
  /* The Monte-Carlo L[q] and the numeric q* run in groups of this many points (0: all
   * in one), each group on any rank (infer/lggroups.h): the numbers depend on it (q*'s
   * batches are a group's points), never on the rank. */
  size_t progress_points;
  const char *job_name;          /* the report's name in the schedule log (may be NULL) */
} infb_gap_options;

typedef struct infb_gap_report {
  size_t n;                      /* points */
  infb_gap_point *pts;           /* per point (owned) */
  int has_encoder;               /* L[q] and the amortisation gap exist */
  int has_numeric;               /* numeric q* was run */
  const char *log_px_method;     /* the name of the method ln p̂(x) is taken from (below):
                                    "exact", "quadrature", "iwae-encoder", "iwae-qstar",
                                    "ais" */
  /* ln p(x) by every method the report ran (the table results.json and the per-point TSV
   * iterate over), and the one chosen: the exact one where there is one, else the
   * lower bound covering every point with the highest mean (each mean's Monte-Carlo
   * error is ~0.01 nat, so the choice adds no visible bias); log_px, the per-point
   * log_px and the gaps are that method's. */
  infb_logpx_method methods[INFB_GAP_MAX_METHODS];
  size_t nmethods;
  size_t chosen;                 /* index into methods */
  /* L[q*] by every variational family the report ran (results.json's qstar_families);
   * elbo_qstar, the per-point L[q*] and the gaps above are ffg's. */
  infb_qstar_family families[INFB_GAP_MAX_FAMILIES];
  size_t nfamilies;
  int has_q_mc;                  /* the Monte-Carlo L[q] was computed */
  int has_quadrature;            /* log_px_quadrature was computed */
  double quadrature_L;           /* ... on the box [−L, L]² */
  size_t quadrature_n;           /* ... with n × n cells */
  int quadrature_converged;      /* box and grid both stopped by quad_tol (not quad_max_n) */
  double quadrature_change;      /* the last doubling's largest change over the points */
  infb_stat log_px, elbo_qstar, elbo_qstar_numeric, elbo_q, elbo_q_mc;
  infb_stat approximation_gap, amortization_gap, inference_gap;
  double approximation_gap_analytic; /* ½(Σ ln Λ_jj − ln|Λ|), the same for every x */
  double qstar_numeric_gap;      /* mean of L[q*] closed − L[q*] numeric (≈ 0 ± MC) */
  double seconds;                /* time spent */
} infb_gap_report;

/* The report of the fitted linear-Gaussian model m on the n rows of X (n×D).  Point i
 * uses rng streams of index first_index + i.  enc may be NULL (no L[q]).  rep is
 * filled (free with infb_gap_report_free).  Returns a status. */
int infb_gapeval_lingauss(const infb_lingauss *m, const gsl_matrix *X, size_t first_index,
                          const infb_encoder *enc, const infb_gap_options *o,
                          infb_gap_report *rep);
void infb_gap_report_free(infb_gap_report *rep); /* NULL is a no-op */

/* Add method `name` (static string) of kind `kind` on the first n points to rep, its
 * values and errors copied (mc_se NULL: NAN), summarised; returns it, or NULL (error
 * raised) when the table is full or memory is out. */
infb_logpx_method *infb_gap_report_add_method(infb_gap_report *rep, const char *name, int kind,
                                              size_t n, const double *value,
                                              const double *mc_se);
/* Add the per-point diagnostic `name` (static string; m->n values copied) to m.
 * GSL_ENOMEM, GSL_EINVAL when m has INFB_GAP_MAX_EXTRAS already. */
int infb_gap_method_add_extra(infb_logpx_method *m, const char *name, const double *v);
/* The method called name, or NULL. */
const infb_logpx_method *infb_gap_report_method(const infb_gap_report *rep, const char *name);
/* Add family `name` (static string) with its per-point L[q*] on the report's n points
 * (values and errors copied; mc_se NULL: exact, NAN), summarised; returns it, or NULL
 * (error raised) when the table is full or memory is out. */
infb_qstar_family *infb_gap_report_add_family(infb_gap_report *rep, const char *name,
                                              const double *value, const double *mc_se);
/* The family called name, or NULL. */
const infb_qstar_family *infb_gap_report_family(const infb_gap_report *rep, const char *name);

/* A VAE gap report's progress, so that an interrupted report goes on where it stopped
 * (infb_vae_gap_options.state): the per-point results of each phase's finished points.
 * The phases run in order: L[q] (groups of points), q* (all the points at once), IWAE with
 * the encoder's proposal and IWAE with q*'s (groups of points), then, for K = 2, the
 * quadrature (not recorded: it runs again).  A point's numbers depend only on its own
 * streams, and a group's points only on the options, so a report that goes on from a
 * state gives the numbers of an uninterrupted report bit for bit.  Entries past a phase's
 * done count are unspecified. */
typedef struct infb_gap_state {
  size_t n, K;                 /* points, latent dimension */
  size_t q_done;               /* L[q]: points [0, q_done) done (n when there is no q) */
  size_t qstar_done;           /* q*: 0, or n when done */
  size_t iwae_done[2];         /* IWAE with the encoder's (0) and q*'s (1) proposal */
  double *q_elbo, *q_se;       /* L[q] by Monte Carlo and its error (n each; NAN: no q) */
  double *qs_elbo, *qs_se;     /* q*: its ELBO estimate and the estimate's error (n each) */
  size_t *qs_steps;            /* q*: Adam steps (n) */
  int *qs_stop;                /* q*: INFB_QSTAR_* (n) */
  double *qs_mu, *qs_lv;       /* q*: the optimum's means and ln σ² (n×K each) */
  double *iw[2], *iw_se[2];    /* IWAE estimates and their errors per proposal (n each;
                                  NAN for the encoder's when there is no q) */
  double *khat[2];             /* PSIS k̂ of each proposal's IWAE weights (n each; NAN
                                  with a status) */
  int *khat_status[2];         /* enum infb_psis_status (n each) */
  /* AIS (infb_vae_gap_options.ais): points [0, ais_done) of the first ais_n done. */
  size_t ais_n, ais_done;
  double *ais_lp, *ais_se, *ais_ess, *ais_accept, *ais_step; /* ais_n each */
  int *ais_status, *ais_low_ess; /* ais_n each */
  /* A report made before per-proposal IWAE was kept (a legacy stage record): iw[] hold
   * NAN and legacy_max the per-point max of the two (n; NULL otherwise). */
  double *legacy_max, *legacy_max_se;
} infb_gap_state;

/* A state of n points with K latent dimensions and nothing done.  NULL (error raised) on
 * ENOMEM; free with infb_gap_state_free (NULL is a no-op). */
infb_gap_state *infb_gap_state_alloc(size_t n, size_t K);
/* Room for AIS on the first m ≤ n points (ais_n = m, ais_done = 0).  GSL_ENOMEM. */
int infb_gap_state_alloc_ais(infb_gap_state *s, size_t m);
/* Room for a legacy record's per-point max (legacy_max, legacy_max_se).  GSL_ENOMEM. */
int infb_gap_state_alloc_legacy(infb_gap_state *s);
void infb_gap_state_free(infb_gap_state *s);
/* Where a report going on from s starts: the first phase not done ("L[q]", "q*",
 * "IWAE (encoder)", "IWAE (q*)", "AIS", or "quadrature" when the recorded phases are all
 * done) and its points done in *done. */
const char *infb_gap_state_phase(const infb_gap_state *s, size_t *done);

/* The VAE's gap report (nn/vae.h, float32), where nothing is exact: on the n rows of X
 * (n×D), with point i using streams of index first_index + i,
 *   L[q]:  the encoder's q, Monte Carlo with q_samples per point ("evaluate/q", i);
 *   L[q*]: the numeric optimum (infer/qstar.h with o->qstar; init at the prior, or at the
 *          encoder when qstar_init_encoder), its ELBO from qstar.eval_samples samples;
 *   ln p̂(x): IWAE-k with the encoder's proposal ("evaluate/iwae", i) and with q*'s
 *          ("evaluate/iwae-qstar", i); the larger of the two per point is reported
 *          (log_px_method "iwae"), with its delta-method standard error as mc_se;
 *   K = 2: ln p(x) by quadrature: from [−quad_L, quad_L]² with quad_n cells per axis,
 *          the box doubled (same spacing) until two values differ by < quad_tol, then
 *          the grid doubled until they do again (at most quad_max_n cells per axis); the
 *          final box and grid are in rep->quadrature_L, _n, and whether both stopped by
 *          the tolerance in rep->quadrature_converged.  Converged, the quadrature is
 *          ln p(x) (log_px_method "quadrature", no Monte-Carlo error) and the gaps are
 *          taken from it, IWAE beside it in log_px_iwae; else IWAE stays ln p̂(x) and the
 *          quadrature is only reported (log_px_quadrature).
 * Elements stored in elbo_qstar (and elbo_qstar_numeric) are the numeric q*'s. */
typedef struct infb_vae_gap_options {
  infb_qstar_options qstar;      /* the numeric q* (qstar.seed is the master seed) */
  int qstar_init_encoder;        /* start q* at the encoder's q */
  size_t q_samples;              /* Monte-Carlo samples for L[q] */
  size_t iwae_k;                 /* importance samples for ln p̂(x) */
  double quad_L;                 /* quadrature half-width (K = 2) */
  size_t quad_n;                 /* starting grid size per axis */
  double quad_tol;               /* stop doubling when the values move by less (nats) */
  size_t quad_max_n;             /* largest grid per axis */
  /* Extension (a decoder trained without an encoder, infer/vaemf.h): when no_encoder is
   * nonzero the network's encoder is never used; a given q (q_mu, q_lv: n×K, row i for
   * point i, both or neither) takes its place for L[q], the IWAE "encoder" proposal and
   * the q* start (qstar_init_encoder), and without one the report has no L[q]
   * (has_encoder = 0: L[q] and the amortisation and inference gaps are NAN with n = 0),
   * q* starts at the prior and ln p̂(x) is IWAE with q*'s proposal alone. */
  int no_encoder;
  const float *q_mu, *q_lv;
  /* Progress (may be NULL): called with done = 0 when a phase starts and with done of
   * total points after each group of points, phase one of "L[q]", "q*", "IWAE (encoder)",
   * "IWAE (q*)", "quadrature" (restarting at each grid size); never from inside a
   * group's work.  A nonzero return stops the report: INFB_EINTR ("interrupted during
   * q*"). */
  int (*progress)(void *ctx, const char *phase, size_t done, size_t total);
  void *progress_ctx;            /* passed to progress */
  /* Points per group for L[q] (rounded up to a multiple of qstar.batch_points; q* runs all
   * the points in one call and reports as they stop); 0: all the points in one group.  The numbers do not depend on it (each point has its
   * own streams, infer/qstar.h); IWAE and quadrature go by qstar.batch_points points. */
  size_t progress_points;
  /* Going on from an interrupted report (may be NULL: from the start): state, of n
   * points and the model's K (GSL_EBADLEN otherwise), holds the phases done so far; the
   * report skips them, and records in it every group it finishes (L[q] and IWAE: groups
   * of progress_points points as above; q*: all of them).  After each, save (may be
   * NULL) is called with the state; a nonzero status stops the report with it. */
  infb_gap_state *state;
  int (*save)(void *ctx, const infb_gap_state *state);
  void *save_ctx;                /* passed to save */
  /* AIS (infer/ais.h; may be NULL: none) on the first ais_points points (0: all), after
   * the IWAE phases, as method "ais" (its seed, threads and progress are set here: the
   * master seed, the network's run threads, the report's progress as phase "AIS"); the
   * state (when given) must have room for them (infb_gap_state_alloc_ais).  Its
   * per-point results are saved after every group of as many row tiles as the run threads
   * (a point's result does not depend on the group).  ais_trace (n entries or NULL; rows
   * 0: none): the diagnostics of the points that have one, filled in the session that
   * runs them. */
  const struct infb_ais_options *ais;
  size_t ais_points;
  struct infb_ais_trace *ais_trace;
  /* The report's name in the schedule log of par/sched.h (e.g. "amortized, train"; may
   * be NULL).  Every phase above runs as a job of groups of points on every rank there
   * is (infer/vaegroups.h): the groups of progress_points for L[q], q* and IWAE, of
   * (run threads) row tiles for AIS; the numbers depend on the groups (q*'s batches are
   * a group's points), never on which rank computes one. */
  const char *job_name;
} infb_vae_gap_options;

struct infb_vae_f32;

/* A frozen VAE decoder as the double-precision decoder of infer/qstar.h: rows are
 * converted to float and run through v's decoder in chunks of cap rows (cap ≤ v's
 * max_batch·max_samples), with buffers allocated here once.  With v's threads at T > 1
 * (vae_set_parts, before this call) it has T independent parts (infb_decoder.fn_part:
 * part t on v's worker t, with buffers of its own).  Frozen means a snapshot: the forward
 * passes read a transposed copy of v's decoder weights taken here (vae_decoder_transpose:
 * no-transpose gemms), the backward passes v's weights, so v's parameters must not change
 * while d is used: allocate d after training, or call infb_vae_decoder_refresh after
 * setting them.  v is borrowed.  NULL (error raised) on ENOMEM; free with
 * infb_vae_decoder_free (NULL is a no-op). */
typedef struct infb_vae_decoder infb_vae_decoder;
infb_vae_decoder *infb_vae_decoder_alloc(struct infb_vae_f32 *v, size_t cap);
/* Takes the snapshot of v's decoder weights again (after a change of v's parameters). */
void infb_vae_decoder_refresh(infb_vae_decoder *d);
/* Binds the float points X (n×D, borrowed; NULL unbinds): the decoder then reads row r's
 * point as X + xrow[r]·D in place, ignoring the double X it is called with — which must
 * hold the same points, in the same order (q*'s X: the double copy of these).  Saves
 * converting every point at every step; an xrow ≥ n is GSL_EBADLEN.  Unbound, the double
 * rows are converted at each call. */
void infb_vae_decoder_bind(infb_vae_decoder *d, size_t n, const float *X);
void infb_vae_decoder_free(infb_vae_decoder *d);
/* The infb_decoder view of d (valid while d lives). */
infb_decoder infb_vae_decoder_ops(infb_vae_decoder *d);

int infb_gapeval_vae(struct infb_vae_f32 *v, size_t n, const float *X, size_t first_index,
                     const infb_vae_gap_options *o, infb_gap_report *rep);

#endif
