/* Variational EM with per-sample fully factorised q_i for the linear-Gaussian model:
 * coordinate ascent on the closed-form ELBO of MATH.md §3 (local step: the optimal
 * factorised q_i, or Adam through infer/qstar.h; global step: the exact maximiser of
 * Σ_i E_q ln p(x_i|z_i) over θ, or Adam on θ), after Neal & Hinton (1998) and
 * Ghahramani & Hinton (1996). */
#include <config.h>
#include "infer/lgmeanfield.h"
#include "infer/em.h"
#include "core/error.h"
#include "core/rng.h"
#include "linalg/dense.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

/* ln 2π (a mathematical constant). */
#define LOG_2PI 1.837877066409345483560659472811235279722794947275566825634

/* ------------------------------------------------------------ small helpers */

static void
mat_free(gsl_matrix *M)
{
  if (M)
    gsl_matrix_free(M);
}

/* ------------------------------------------------------------ sufficient statistics */

/* What the mean ELBO depends on as a function of θ at fixed q, for centred data xc_i and
 * z̃ = (z, 1):
 *   sxx_d = Σ_i xc_id²,  Sxz = Σ_i xc_i E[z̃_i]ᵀ,  Szz = Σ_i E[z̃_i z̃_iᵀ],
 * with E[z̃z̃ᵀ] = [[μμᵀ + diag s², μ], [μᵀ, 1]], and the mean KL of the q_i. */
typedef struct {
  size_t N, D, K;
  double *sxx;     /* D */
  gsl_matrix *Sxz; /* D×(K+1) */
  gsl_matrix *Szz; /* (K+1)×(K+1) */
  gsl_matrix *L;   /* (K+1)×(K+1): Cholesky scratch */
  gsl_vector *v;   /* K+1 scratch */
  gsl_vector *u;   /* K+1 scratch */
  double kl;       /* mean_i KL(q_i ‖ N(0, I)) */
} stats;

static void
stats_free(stats *s)
{
  free(s->sxx);
  mat_free(s->Sxz);
  mat_free(s->Szz);
  mat_free(s->L);
  if (s->v)
    gsl_vector_free(s->v);
  if (s->u)
    gsl_vector_free(s->u);
  memset(s, 0, sizeof *s);
}

static int
stats_alloc(stats *s, size_t N, size_t D, size_t K)
{
  memset(s, 0, sizeof *s);
  s->N = N;
  s->D = D;
  s->K = K;
  s->sxx = infb_malloc(D, sizeof *s->sxx);
  s->Sxz = infb_dense_matrix_alloc(D, K + 1);
  s->Szz = infb_dense_matrix_alloc(K + 1, K + 1);
  s->L = infb_dense_matrix_alloc(K + 1, K + 1);
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  s->v = gsl_vector_alloc(K + 1);
  s->u = gsl_vector_alloc(K + 1);
  gsl_set_error_handler(old);
  if (!s->sxx || !s->Sxz || !s->Szz || !s->L || !s->v || !s->u) {
    stats_free(s);
    return INFB_ERROR(GSL_ENOMEM, "meanfield: out of memory");
  }
  return GSL_SUCCESS;
}

/* The statistics of the centred data Xc (N×D) and q = (MU, S2) (N×K each). */
static int
stats_set(stats *s, const gsl_matrix *Xc, const gsl_matrix *MU, const gsl_matrix *S2)
{
  const size_t N = s->N, D = s->D, K = s->K;
  for (size_t d = 0; d < D; d++) {
    double a = 0.0, m = 0.0;
    for (size_t i = 0; i < N; i++) {
      double x = gsl_matrix_get(Xc, i, d);
      a += x * x;
      m += x;
    }
    s->sxx[d] = a;
    gsl_matrix_set(s->Sxz, d, K, m);
  }
  gsl_matrix_view xz = gsl_matrix_submatrix(s->Sxz, 0, 0, D, K);
  gsl_matrix_view zz = gsl_matrix_submatrix(s->Szz, 0, 0, K, K);
  int st = infb_dense_gemm(1, 0, 1.0, Xc, MU, 0.0, &xz.matrix);
  if (!st)
    st = infb_dense_gram(1.0, MU, 0.0, &zz.matrix);
  if (st)
    return st;
  double kl = 0.0;
  for (size_t j = 0; j < K; j++) {
    double ssum = 0.0, msum = 0.0;
    for (size_t i = 0; i < N; i++) {
      double s2 = gsl_matrix_get(S2, i, j), mu = gsl_matrix_get(MU, i, j);
      ssum += s2;
      msum += mu;
      kl += s2 + mu * mu - 1.0 - log(s2);
    }
    gsl_matrix_set(s->Szz, j, j, gsl_matrix_get(s->Szz, j, j) + ssum);
    gsl_matrix_set(s->Szz, j, K, msum);
    gsl_matrix_set(s->Szz, K, j, msum);
  }
  gsl_matrix_set(s->Szz, K, K, (double)N);
  s->kl = 0.5 * kl / (double)N;
  return GSL_SUCCESS;
}

/* The mean ELBO of the q behind s under θ (W, b in the centred frame, psi) and its
 * gradient (any output may be NULL; Glpsi for every psi_d free):
 *   Q_d = sxx_d − 2 ṽ_dᵀ Sxz_d + ṽ_dᵀ Szz ṽ_d  (= Σ_i E_q(xc_id − w_dᵀz_i − b_d)²),
 *   ELBO = −½ D ln 2π − ½ Σ_d ln psi_d − Σ_d Q_d/(2N psi_d) − mean KL,
 *   ∂ELBO/∂ṽ_d = (Sxz_d − Szz ṽ_d)/(N psi_d),  ∂ELBO/∂ln psi_d = −½ + Q_d/(2N psi_d),
 * with ṽ_d = (w_d, b_d).  O(D K²). */
static double
stats_elbo_grad(stats *s, const gsl_matrix *W, const gsl_vector *b, const gsl_vector *psi,
                gsl_matrix *GW, gsl_vector *Gb, gsl_vector *Glpsi)
{
  const size_t D = s->D, K = s->K;
  const double N = (double)s->N;
  double e = -0.5 * (double)D * LOG_2PI - s->kl;
  for (size_t d = 0; d < D; d++) {
    for (size_t k = 0; k < K; k++)
      gsl_vector_set(s->v, k, gsl_matrix_get(W, d, k));
    gsl_vector_set(s->v, K, gsl_vector_get(b, d));
    double q = s->sxx[d], p = gsl_vector_get(psi, d);
    for (size_t a = 0; a <= K; a++) {
      double ua = 0.0;
      for (size_t c = 0; c <= K; c++)
        ua += gsl_matrix_get(s->Szz, a, c) * gsl_vector_get(s->v, c);
      gsl_vector_set(s->u, a, ua);
      q += gsl_vector_get(s->v, a) * (ua - 2.0 * gsl_matrix_get(s->Sxz, d, a));
    }
    e -= 0.5 * log(p) + q / (2.0 * N * p);
    for (size_t a = 0; a <= K; a++) {
      double g = (gsl_matrix_get(s->Sxz, d, a) - gsl_vector_get(s->u, a)) / (N * p);
      if (a < K && GW)
        gsl_matrix_set(GW, d, a, g);
      else if (a == K && Gb)
        gsl_vector_set(Gb, d, g);
    }
    if (Glpsi)
      gsl_vector_set(Glpsi, d, -0.5 + q / (2.0 * N * p));
  }
  return e;
}

/* ------------------------------------------------------------ the gradient, public */

static int
check_q(const gsl_matrix *M, size_t n, size_t K, const char *what)
{
  if (!M || M->size1 != n || M->size2 != K)
    return INFB_ERROR(GSL_EBADLEN, "meanfield theta_grad: %s must be %zux%zu", what, n, K);
  return GSL_SUCCESS;
}

int
infb_lgmeanfield_theta_grad(const infb_lingauss *m, const gsl_matrix *X,
                            const gsl_matrix *MU, const gsl_matrix *S2, double *elbo,
                            gsl_matrix *GW, gsl_vector *Gb, gsl_vector *Glpsi)
{
  if (!m || !X)
    return INFB_ERROR(GSL_EINVAL, "meanfield theta_grad: NULL argument");
  const size_t D = m->D, K = m->K, n = X->size1;
  int st;
  if (X->size2 != D)
    return INFB_ERROR(GSL_EBADLEN, "meanfield theta_grad: X has %zu columns, D = %zu",
                      X->size2, D);
  if (n == 0)
    return INFB_ERROR(INFB_EDATA, "meanfield theta_grad: the data have no rows");
  if ((st = check_q(MU, n, K, "MU")) || (st = check_q(S2, n, K, "S2")))
    return st;
  if ((GW && (GW->size1 != D || GW->size2 != K)) || (Gb && Gb->size != D) ||
      (Glpsi && Glpsi->size != D))
    return INFB_ERROR(GSL_EBADLEN, "meanfield theta_grad: a gradient has the wrong shape");
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < K; j++)
      if (!(gsl_matrix_get(S2, i, j) > 0.0))
        return INFB_ERROR(GSL_EDOM, "meanfield theta_grad: S2[%zu][%zu] = %g is not a "
                                    "positive variance",
                          i, j, gsl_matrix_get(S2, i, j));
  for (size_t d = 0; d < D; d++)
    if (!(gsl_vector_get(m->psi, d) > 0.0))
      return INFB_ERROR(GSL_EDOM, "meanfield theta_grad: Psi[%zu] = %g is not a positive "
                                  "variance",
                        d, gsl_vector_get(m->psi, d));
  double *c = infb_malloc(D, sizeof *c);
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  gsl_vector *bc = gsl_vector_alloc(D);
  gsl_set_error_handler(old);
  gsl_matrix *Xc = NULL;
  stats s;
  memset(&s, 0, sizeof s);
  if (!c || !bc) {
    st = INFB_ERROR(GSL_ENOMEM, "meanfield theta_grad: out of memory");
    goto done;
  }
  infb_dense_column_means(X, c);
  if (!(Xc = infb_dense_centred(X, c))) {
    st = GSL_ENOMEM;
    goto done;
  }
  if ((st = stats_alloc(&s, n, D, K)) || (st = stats_set(&s, Xc, MU, S2)))
    goto done;
  /* The same θ in the centred frame: b − c. */
  for (size_t d = 0; d < D; d++)
    gsl_vector_set(bc, d, gsl_vector_get(m->b, d) - c[d]);
  double e = stats_elbo_grad(&s, m->W, bc, m->psi, GW, Gb, Glpsi);
  if (elbo)
    *elbo = e;
done:
  free(c);
  if (bc)
    gsl_vector_free(bc);
  mat_free(Xc);
  stats_free(&s);
  return st;
}

/* ------------------------------------------------------------ the fit */

typedef struct {
  size_t N, D, K, Nte;
  double *c;            /* D: the training mean (the centring of every frame below) */
  gsl_matrix *Xc;       /* N×D centred training data (contiguous: the qstar rows) */
  gsl_matrix *Xtec;     /* Nte×D centred test data, or NULL */
  infb_lingauss *wm;    /* θ in the centred frame (b − c) */
  infb_lingauss_cache *cache;
  gsl_matrix *MU, *S2;  /* N×K: the q_i */
  double *LV;           /* N×K: ln s² for the Adam local step */
  infb_qstar_point *qpt; /* N */
  gsl_matrix *MUte, *S2te; /* Nte×K */
  gsl_vector *etr, *ete; /* per-point ELBOs */
  stats s;
  double *p, *am, *av, *g; /* the gradient step: θ flat, Adam moments, gradient */
  size_t np;             /* their length */
  size_t adam_t;         /* θ Adam steps so far */
  gsl_matrix *GW;        /* D×K */
  gsl_vector *Gb, *Glpsi; /* D */
  unsigned char *hit;   /* D: psi_d floored at least once */
} work;

static void
work_free(work *w)
{
  free(w->c);
  mat_free(w->Xc);
  mat_free(w->Xtec);
  infb_lingauss_free(w->wm);
  infb_lingauss_cache_free(w->cache);
  mat_free(w->MU);
  mat_free(w->S2);
  free(w->LV);
  free(w->qpt);
  mat_free(w->MUte);
  mat_free(w->S2te);
  if (w->etr)
    gsl_vector_free(w->etr);
  if (w->ete)
    gsl_vector_free(w->ete);
  stats_free(&w->s);
  free(w->p);
  free(w->am);
  free(w->av);
  free(w->g);
  mat_free(w->GW);
  if (w->Gb)
    gsl_vector_free(w->Gb);
  if (w->Glpsi)
    gsl_vector_free(w->Glpsi);
  free(w->hit);
}

static int
work_alloc(work *w, const gsl_matrix *Xtr, const gsl_matrix *Xte, size_t K,
           const infb_lgmeanfield_options *o)
{
  memset(w, 0, sizeof *w);
  const size_t N = Xtr->size1, D = Xtr->size2;
  w->N = N;
  w->D = D;
  w->K = K;
  w->Nte = Xte ? Xte->size1 : 0;
  if (!(w->c = infb_malloc(D, sizeof *w->c)))
    return GSL_ENOMEM;
  infb_dense_column_means(Xtr, w->c);
  int ok = (w->Xc = infb_dense_centred(Xtr, w->c)) != NULL;
  if (ok && Xte)
    ok = (w->Xtec = infb_dense_centred(Xte, w->c)) != NULL;
  ok = ok && (w->wm = infb_lingauss_alloc(D, K, o->ppca)) &&
       (w->cache = infb_lingauss_cache_alloc(D, K)) && (w->MU = infb_dense_matrix_alloc(N, K)) &&
       (w->S2 = infb_dense_matrix_alloc(N, K)) && (w->hit = infb_calloc(D, 1));
  if (ok && Xte)
    ok = (w->MUte = infb_dense_matrix_alloc(w->Nte, K)) && (w->S2te = infb_dense_matrix_alloc(w->Nte, K));
  if (ok && o->local_adam)
    ok = (w->LV = infb_malloc(N * K, sizeof *w->LV)) &&
         (w->qpt = infb_malloc(N, sizeof *w->qpt));
  if (ok && o->global_gradient) {
    w->np = D * K + D + (o->ppca ? 1 : D);
    ok = (w->p = infb_malloc(w->np, sizeof *w->p)) && (w->am = infb_calloc(w->np, sizeof *w->am)) &&
         (w->av = infb_calloc(w->np, sizeof *w->av)) && (w->g = infb_malloc(w->np, sizeof *w->g)) &&
         (w->GW = infb_dense_matrix_alloc(D, K));
  }
  if (ok) {
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    w->etr = gsl_vector_alloc(N);
    w->ete = Xte ? gsl_vector_alloc(w->Nte) : NULL;
    if (o->global_gradient) {
      w->Gb = gsl_vector_alloc(D);
      w->Glpsi = gsl_vector_alloc(D);
    }
    gsl_set_error_handler(old);
    ok = w->etr && (!Xte || w->ete) && (!o->global_gradient || (w->Gb && w->Glpsi));
  }
  if (!ok)
    return INFB_ERROR(GSL_ENOMEM, "meanfield: out of memory");
  return stats_alloc(&w->s, N, D, K);
}

/* Raise psi below the floor, marking the coordinates raised. */
static void
apply_floor(work *w, double psi_floor)
{
  for (size_t d = 0; d < w->D; d++)
    if (gsl_vector_get(w->wm->psi, d) < psi_floor) {
      gsl_vector_set(w->wm->psi, d, psi_floor);
      w->hit[d] = 1;
    }
}

/* Re-raise the last error with the outer iteration named and a hint. */
static int
fail_iter(int st, size_t iter, const char *hint)
{
  char reason[512];
  snprintf(reason, sizeof reason, "%s", infb_error_message());
  return INFB_ERROR(st, "meanfield iteration %zu: %s; %s", iter, reason, hint);
}

/* The closed-form global step: for every d, (w_d, b_d) = Szz⁻¹ Sxz_d (least squares on
 * E[z̃]), then psi_d = (1/N) Σ_i [(xc_id − w_dᵀμ_i − b_d)² + Σ_j W_dj² s_ij²] from the
 * residuals (not from the statistics, which would cancel), ppca: their mean; floored. */
static int
global_closed(work *w, const infb_lgmeanfield_options *o, size_t iter)
{
  const size_t N = w->N, D = w->D, K = w->K;
  stats *s = &w->s;
  int st = stats_set(s, w->Xc, w->MU, w->S2);
  if (st)
    return st;
  gsl_matrix_memcpy(s->L, s->Szz);
  if ((st = infb_dense_cholesky(s->L, "the summed second moment Σ E[z̃z̃ᵀ] of q")))
    return fail_iter(st, iter, "the q_i are degenerate");
  gsl_matrix *W = w->wm->W;
  gsl_vector *b = w->wm->b, *psi = w->wm->psi;
  for (size_t d = 0; d < D; d++) {
    for (size_t a = 0; a <= K; a++)
      gsl_vector_set(s->v, a, gsl_matrix_get(s->Sxz, d, a));
    if ((st = infb_dense_chol_solve(s->L, s->v, s->v)))
      return st;
    for (size_t k = 0; k < K; k++)
      gsl_matrix_set(W, d, k, gsl_vector_get(s->v, k));
    gsl_vector_set(b, d, gsl_vector_get(s->v, K));
  }
  /* Σ_i Σ_j W_dj² s_ij² = Σ_j W_dj² (Σ_i s_ij²), the diagonal of Szz minus that of MUᵀMU:
   * take the column sums of S2 directly. */
  double *ssum = s->u->data; /* K+1 scratch, stride 1 */
  for (size_t j = 0; j < K; j++) {
    double a = 0.0;
    for (size_t i = 0; i < N; i++)
      a += gsl_matrix_get(w->S2, i, j);
    ssum[j] = a;
  }
  double pmean = 0.0;
  for (size_t d = 0; d < D; d++) {
    const double *wd = gsl_matrix_const_ptr(W, d, 0);
    double bd = gsl_vector_get(b, d), q = 0.0;
    for (size_t i = 0; i < N; i++) {
      const double *mu = gsl_matrix_const_ptr(w->MU, i, 0);
      double r = gsl_matrix_get(w->Xc, i, d) - bd;
      for (size_t k = 0; k < K; k++)
        r -= wd[k] * mu[k];
      q += r * r;
    }
    for (size_t j = 0; j < K; j++)
      q += wd[j] * wd[j] * ssum[j];
    gsl_vector_set(psi, d, q / (double)N);
    pmean += q / (double)N;
  }
  if (o->ppca)
    gsl_vector_set_all(psi, pmean / (double)D);
  apply_floor(w, o->psi_floor);
  return GSL_SUCCESS;
}

/* θ → the flat vector p = (W row-major, b, ln psi (ppca: one entry)). */
static void
theta_to_flat(work *w, int ppca)
{
  const size_t D = w->D, K = w->K;
  for (size_t d = 0; d < D; d++)
    for (size_t k = 0; k < K; k++)
      w->p[d * K + k] = gsl_matrix_get(w->wm->W, d, k);
  for (size_t d = 0; d < D; d++)
    w->p[D * K + d] = gsl_vector_get(w->wm->b, d);
  for (size_t d = 0; d < (ppca ? 1 : D); d++)
    w->p[D * K + D + d] = log(gsl_vector_get(w->wm->psi, d));
}

/* The inverse; ln psi at (or below) ln psi_floor gives psi_floor exactly. */
static void
flat_to_theta(work *w, int ppca, double psi_floor)
{
  const size_t D = w->D, K = w->K;
  const double lfloor = psi_floor > 0.0 ? log(psi_floor) : -INFINITY;
  for (size_t d = 0; d < D; d++)
    for (size_t k = 0; k < K; k++)
      gsl_matrix_set(w->wm->W, d, k, w->p[d * K + k]);
  for (size_t d = 0; d < D; d++) {
    gsl_vector_set(w->wm->b, d, w->p[D * K + d]);
    double lp = w->p[D * K + D + (ppca ? 0 : d)];
    gsl_vector_set(w->wm->psi, d, lp <= lfloor ? psi_floor : exp(lp));
  }
}

/* The gradient global step: epochs full-batch Adam steps on −ELBO over p at fixed q. */
static int
global_gradient(work *w, const infb_lgmeanfield_options *o, size_t iter, double lr)
{
  const size_t D = w->D, K = w->K, np = w->np;
  const infb_train_options *t = &o->train;
  const int ppca = o->ppca;
  int st = stats_set(&w->s, w->Xc, w->MU, w->S2);
  if (st)
    return st;
  const double lfloor = o->psi_floor > 0.0 ? log(o->psi_floor) : -INFINITY;
  for (size_t step = 1; step <= t->epochs; step++) {
    double e = stats_elbo_grad(&w->s, w->wm->W, w->wm->b, w->wm->psi, w->GW, w->Gb, w->Glpsi);
    if (!isfinite(e))
      return INFB_ERROR(GSL_EDOM, "meanfield iteration %zu, gradient step %zu: the ELBO is not "
                                  "finite; lower [train] lr",
                        iter, step);
    for (size_t d = 0; d < D; d++)
      for (size_t k = 0; k < K; k++)
        w->g[d * K + k] = gsl_matrix_get(w->GW, d, k);
    for (size_t d = 0; d < D; d++)
      w->g[D * K + d] = gsl_vector_get(w->Gb, d);
    if (ppca) {
      double a = 0.0;
      for (size_t d = 0; d < D; d++)
        a += gsl_vector_get(w->Glpsi, d);
      w->g[D * K + D] = a;
    } else {
      for (size_t d = 0; d < D; d++)
        w->g[D * K + D + d] = gsl_vector_get(w->Glpsi, d);
    }
    w->adam_t++;
    double bc1 = 1.0 - pow(t->beta1, (double)w->adam_t);
    double bc2 = 1.0 - pow(t->beta2, (double)w->adam_t);
    for (size_t q = 0; q < np; q++) {
      double g = -w->g[q]; /* the loss is −ELBO */
      w->am[q] = t->beta1 * w->am[q] + (1.0 - t->beta1) * g;
      w->av[q] = t->beta2 * w->av[q] + (1.0 - t->beta2) * g * g;
      w->p[q] -= lr * (w->am[q] / bc1) / (sqrt(w->av[q] / bc2) + t->eps);
    }
    for (size_t q = D * K + D; q < np; q++)
      if (w->p[q] < lfloor) {
        w->p[q] = lfloor;
        if (ppca)
          w->hit[0] = 1;
        else
          w->hit[q - D * K - D] = 1;
      }
    flat_to_theta(w, ppca, o->psi_floor);
  }
  return GSL_SUCCESS;
}

/* The decoder callback of the Adam local step: ln p(xc|z) under θ in the centred frame. */
static int
decoder_cb(void *self, size_t R, const double *X, const size_t *xrow, const double *Z,
           double *logp, double *G)
{
  return infb_lingauss_decoder(self, R, X, xrow, Z, logp, G);
}

/* The Adam local step: q_i warm-started, qstar's options with the seed of iteration t. */
static int
local_adam(work *w, const infb_lgmeanfield_options *o, size_t iter)
{
  const size_t N = w->N, K = w->K;
  infb_decoder dec = {.D = w->D, .K = K, .fn = decoder_cb, .self = w->wm};
  infb_qstar_options qo = o->qstar;
  qo.init_given = 1;
  qo.eval_samples = 2;
  qo.seed = infb_rng_derive(o->seed, "meanfield/qstar", (uint64_t)iter);
  for (size_t q = 0; q < N * K; q++)
    w->LV[q] = log(w->S2->data[q]);
  int st = infb_qstar_optimize(&dec, &qo, N, w->Xc->data, 0, w->MU->data, w->LV, w->qpt);
  if (st)
    return fail_iter(st, iter, "try a smaller [qstar] lr");
  for (size_t q = 0; q < N * K; q++) {
    w->S2->data[q] = exp(w->LV[q]);
    if (!(w->S2->data[q] > 0.0) || !isfinite(w->S2->data[q]) || !isfinite(w->MU->data[q]))
      return INFB_ERROR(GSL_EDOM, "meanfield iteration %zu: the Adam local step left q of "
                                  "point %zu degenerate; try a smaller [qstar] lr",
                        iter, q / K);
  }
  return GSL_SUCCESS;
}

/* Set the cache at θ (errors name the iteration). */
static int
set_theta(work *w, size_t iter)
{
  int st = infb_lingauss_cache_set(w->cache, w->wm);
  if (st)
    return fail_iter(st, iter, "try a larger [meanfield] psi_floor or a smaller [train] lr");
  return GSL_SUCCESS;
}

/* Mean of the per-point closed-form ELBOs of (MU, S2) on X under the cache. */
static int
mean_elbo(work *w, const gsl_matrix *X, const gsl_matrix *MU, const gsl_matrix *S2,
          gsl_vector *e, size_t iter, double *out)
{
  int st = infb_lingauss_elbo(w->cache, X, MU, S2, e);
  if (st)
    return fail_iter(st, iter, "try a larger [meanfield] psi_floor");
  double a = 0.0;
  for (size_t i = 0; i < e->size; i++)
    a += gsl_vector_get(e, i);
  a /= (double)e->size;
  if (!isfinite(a))
    return INFB_ERROR(GSL_EDOM, "meanfield iteration %zu: the ELBO is not finite; try a larger "
                                "[meanfield] psi_floor or smaller learning rates",
                      iter);
  *out = a;
  return GSL_SUCCESS;
}

/* The curve row of iteration t: the train objective and the test points' optimal q. */
static int
record(work *w, infb_latent_fit *fit, size_t iter, double etr)
{
  double *row = fit->curve + 3 * iter;
  row[0] = (double)iter;
  row[1] = etr;
  row[2] = NAN;
  if (w->Xtec) {
    int st = infb_lingauss_qstar(w->cache, w->Xtec, w->MUte, w->S2te);
    if (st)
      return fail_iter(st, iter, "while scoring the test points");
    if ((st = mean_elbo(w, w->Xtec, w->MUte, w->S2te, w->ete, iter, &row[2])))
      return st;
  }
  return GSL_SUCCESS;
}

static int
check_options(const infb_lgmeanfield_options *o)
{
  if (!(o->tol >= 0.0) || !isfinite(o->tol))
    return INFB_ERROR(GSL_EINVAL, "meanfield: tol = %g must be a finite number ≥ 0", o->tol);
  if (!(o->psi_floor >= 0.0) || !isfinite(o->psi_floor))
    return INFB_ERROR(GSL_EINVAL, "meanfield: psi_floor = %g must be a finite number ≥ 0",
                      o->psi_floor);
  if (!(o->init_scale > 0.0) || !isfinite(o->init_scale))
    return INFB_ERROR(GSL_EINVAL, "meanfield: init_scale = %g must be a positive number "
                                  "(W = 0 is a fixed point)",
                      o->init_scale);
  if (o->max_iter >= SIZE_MAX / 3 - 1)
    return INFB_ERROR(GSL_EINVAL, "meanfield: max_iter is too large");
  if (o->global_gradient) {
    const infb_train_options *t = &o->train;
    if (!(t->lr > 0.0) || !isfinite(t->lr))
      return INFB_ERROR(GSL_EINVAL, "meanfield: [train] lr = %g must be finite and > 0", t->lr);
    if (!(t->lr_decay >= 0.0) || !isfinite(t->lr_decay))
      return INFB_ERROR(GSL_EINVAL, "meanfield: [train] lr_decay = %g must be finite and ≥ 0",
                        t->lr_decay);
    if (!(t->eps > 0.0) || !isfinite(t->eps))
      return INFB_ERROR(GSL_EINVAL, "meanfield: [train] eps = %g must be finite and > 0",
                        t->eps);
    if (!(t->beta1 >= 0.0 && t->beta1 < 1.0) || !(t->beta2 >= 0.0 && t->beta2 < 1.0))
      return INFB_ERROR(GSL_EINVAL, "meanfield: [train] Adam betas must lie in [0, 1) (got %g, "
                                    "%g)",
                        t->beta1, t->beta2);
  }
  return GSL_SUCCESS;
}

/* A description of the steps for the report. */
static void
write_note(infb_latent_fit *fit, const infb_lgmeanfield_options *o)
{
  char loc[112], glo[112];
  if (o->local_adam)
    snprintf(loc, sizeof loc, "Adam local step (qstar: <= %zu steps/iteration, %zu samples, "
                              "lr %g, warm start)",
             o->qstar.max_steps, o->qstar.samples, o->qstar.lr);
  else
    snprintf(loc, sizeof loc, "closed-form local step (q_i = N(m(x_i), diag 1/Lambda_jj))");
  if (o->global_gradient)
    snprintf(glo, sizeof glo, "Adam global step on (W, b, ln psi) (%zu steps/iteration, lr %g)",
             o->train.epochs, o->train.lr);
  else
    snprintf(glo, sizeof glo, "closed-form global step (least squares on E[z], mean expected "
                              "squared residual)");
  snprintf(fit->note, sizeof fit->note, "variational EM%s: %s; %s", o->ppca ? " (PPCA)" : "",
           loc, glo);
}

int
infb_lgmeanfield_fit(const gsl_matrix *Xtr, const gsl_matrix *Xte, size_t K,
                     const infb_lgmeanfield_options *o, infb_latent_fit *fit)
{
  if (!fit || !Xtr || !o)
    return INFB_ERROR(GSL_EINVAL, "meanfield: NULL argument");
  infb_latent_fit_init(fit);
  int st;
  if ((st = infb_lingauss_check_data(Xtr, K)) || (st = check_options(o)))
    return st;
  if (Xte) {
    if (Xte->size2 != Xtr->size2)
      return INFB_ERROR(GSL_EBADLEN, "meanfield: the test data have %zu columns, the training "
                                     "data %zu",
                        Xte->size2, Xtr->size2);
    if ((st = infb_lingauss_check_data(Xte, K)))
      return st;
  }
  const size_t D = Xtr->size2;
  work w;
  if ((st = work_alloc(&w, Xtr, Xte, K, o)))
    goto done;
  if (o->local_adam) {
    /* Validate qstar's options now rather than at iteration 1 (n = 0: checks only). */
    infb_decoder dec = {.D = D, .K = K, .fn = decoder_cb, .self = w.wm};
    infb_qstar_options qo = o->qstar;
    qo.eval_samples = 2;
    if ((st = infb_qstar_optimize(&dec, &qo, 0, NULL, 0, NULL, NULL, NULL)))
      goto done;
  }
  if ((st = infb_latent_fit_curve(fit, o->max_iter + 1, "mean ELBO per point (nats)")))
    goto done;

  /* The start: b = mean (0 in the centred frame), psi = column variances, W random. */
  double vmean = 0.0;
  for (size_t d = 0; d < D; d++) {
    double a = 0.0;
    for (size_t i = 0; i < w.N; i++)
      a += gsl_matrix_get(w.Xc, i, d) * gsl_matrix_get(w.Xc, i, d);
    gsl_vector_set(w.wm->psi, d, a / (double)w.N);
    vmean += a / (double)w.N;
  }
  if (o->ppca)
    gsl_vector_set_all(w.wm->psi, vmean / (double)D);
  gsl_vector_set_zero(w.wm->b);
  {
    gsl_rng *r = infb_rng_stream(o->seed, "meanfield/init", 0);
    if (!r) {
      st = GSL_ENOMEM;
      goto done;
    }
    for (size_t d = 0; d < D; d++)
      for (size_t k = 0; k < K; k++)
        gsl_matrix_set(w.wm->W, d, k, gsl_ran_gaussian(r, o->init_scale));
    gsl_rng_free(r);
  }
  apply_floor(&w, o->psi_floor);
  if (o->global_gradient)
    theta_to_flat(&w, o->ppca);

  double elbo, prev;
  if ((st = set_theta(&w, 0)) || (st = infb_lingauss_qstar(w.cache, w.Xc, w.MU, w.S2)) ||
      (st = mean_elbo(&w, w.Xc, w.MU, w.S2, w.etr, 0, &elbo)) ||
      (st = record(&w, fit, 0, elbo)))
    goto done;
  size_t it = 0;
  const char *reason = "max_iter";
  double lr = o->train.lr;
  while (it < o->max_iter) {
    it++;
    /* Global step: θ given q. */
    if (o->global_gradient) {
      st = global_gradient(&w, o, it, lr);
      lr *= o->train.lr_decay;
    } else {
      st = global_closed(&w, o, it);
    }
    if (st || (st = set_theta(&w, it)))
      goto done;
    /* Local step: q given θ. */
    if (o->local_adam)
      st = local_adam(&w, o, it);
    else if ((st = infb_lingauss_qstar(w.cache, w.Xc, w.MU, w.S2)))
      st = fail_iter(st, it, "the closed-form local step");
    if (st)
      goto done;
    prev = elbo;
    if ((st = mean_elbo(&w, w.Xc, w.MU, w.S2, w.etr, it, &elbo)) ||
        (st = record(&w, fit, it, elbo)))
      goto done;
    if (elbo - prev <= o->tol * (1.0 + fabs(elbo))) {
      reason = "converged";
      break;
    }
  }
  fit->ncurve = it + 1;
  fit->iterations = it;
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "%s", reason);
  size_t nf = 0;
  for (size_t d = 0; d < D; d++)
    nf += w.hit[d];
  fit->nfloored = o->ppca && nf > 0 ? 1 : nf;
  /* θ back in the data's frame: b + c. */
  if (!(fit->model = infb_lingauss_alloc(D, K, o->ppca))) {
    st = GSL_ENOMEM;
    goto done;
  }
  gsl_matrix_memcpy(fit->model->W, w.wm->W);
  gsl_vector_memcpy(fit->model->psi, w.wm->psi);
  for (size_t d = 0; d < D; d++)
    gsl_vector_set(fit->model->b, d, gsl_vector_get(w.wm->b, d) + w.c[d]);
  fit->encoder.fn = NULL;
  write_note(fit, o);
done:
  work_free(&w);
  if (st)
    infb_latent_fit_free(fit);
  return st;
}
