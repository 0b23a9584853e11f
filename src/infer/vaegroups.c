/* The VAE gap report's phases in groups of points (see vaegroups.h). */
#include <config.h>
#include "infer/vaegroups.h"
#include "core/bytes.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/psis.h"
#include "linalg/blas.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Doubles per point of a phase's result (AIS traces come on top). */
static size_t
per_point(const infb_vae_groups_settings *s)
{
  switch (s->phase) {
  case INFB_VP_QUADRATURE:
    return 1;
  case INFB_VP_LQ:
    return 2;
  case INFB_VP_QSTAR:
    return infb_mul_add(2, s->arch.K, 4);
  case INFB_VP_IWAE_ENCODER:
  case INFB_VP_IWAE_QSTAR:
  case INFB_VP_BDMC:
    return 4;
  default:
    return 7;
  }
}

int
infb_vae_groups_cut(infb_vae_groups *w, size_t done, size_t end, size_t G,
                    size_t tiles_per_group)
{
  const size_t P = w->set.ais.tile_points ? w->set.ais.tile_points : 1;
  const size_t T = tiles_per_group ? tiles_per_group : 1, f = w->set.first_index;
  if (G == 0)
    G = end > 0 ? end : 1;
  size_t cap = 2, k = 0;
  free(w->start);
  w->start = infb_malloc(cap, sizeof *w->start);
  if (!w->start)
    return GSL_ENOMEM;
  w->start[k++] = done;
  for (size_t i = done; i < end;) {
    size_t next;
    if (w->set.phase == INFB_VP_AIS || w->set.phase == INFB_VP_BDMC)
      next = ((f + i) / P + T) * P - f; /* the end of T whole tiles from i's */
    else
      next = (i / G + 1) * G;
    i = next < end ? next : end;
    if (k == cap) {
      size_t *ns = realloc(w->start, 2 * cap * sizeof *ns);
      if (!ns)
        return GSL_ENOMEM;
      w->start = ns;
      cap *= 2;
    }
    w->start[k++] = i;
  }
  w->set.ngroups = k - 1;
  return GSL_SUCCESS;
}

size_t
infb_vae_groups_result_max(const infb_vae_groups *w)
{
  size_t most = 0;
  for (size_t g = 0; g < w->set.ngroups; g++) {
    size_t a = w->start[g], m = w->start[g + 1] - a, b = m * per_point(&w->set);
    if (w->set.phase == INFB_VP_AIS)
      for (size_t i = a; i < a + m; i++)
        b += i < w->set.ntrace ? 4 * w->set.trace_rows : 0;
    if (b > most)
      most = b;
  }
  return most * sizeof(double);
}

/* ------------------------------------------------------------------ the phases */

static int
group_lq(infb_vae_groups *w, size_t a, size_t m, double *out)
{
  const size_t D = w->set.arch.D, K = w->set.arch.K;
  double *mu = infb_malloc(m * K, sizeof *mu), *lv = infb_malloc(m * K, sizeof *lv);
  int st = mu && lv ? GSL_SUCCESS : GSL_ENOMEM;
  for (size_t i = 0; !st && i < m * K; i++) {
    mu[i] = w->MU[a * K + i];
    lv[i] = w->LV[a * K + i];
  }
  infb_decoder dd = infb_vae_decoder_ops(w->dec);
  if (!st) {
    infb_vae_decoder_bind(w->dec, m, w->X + a * D); /* read in place; Xd is its copy */
    st = infb_qstar_elbo_mc(&dd, m, w->Xd + a * D, mu, lv, w->set.q_samples, w->set.qstar.seed,
                            "evaluate/q", w->set.first_index + a, out, out + m);
    infb_vae_decoder_bind(w->dec, 0, NULL);
  }
  free(mu);
  free(lv);
  return st;
}

static int
group_qstar(infb_vae_groups *w, size_t a, size_t m, double *out)
{
  const size_t D = w->set.arch.D, K = w->set.arch.K;
  infb_qstar_options qo = w->set.qstar;
  qo.threads = infb_vae_run_threads_f32(w->v); /* q*'s parts run as the VAE's passes */
  qo.init_given = w->set.qstar_init;
  qo.progress = w->qstar_progress;
  qo.progress_ctx = w->qstar_progress_ctx;
  double *mu = out + 4 * m, *lv = mu + m * K;
  infb_qstar_point *qp = infb_calloc(m, sizeof *qp);
  if (!qp)
    return GSL_ENOMEM;
  for (size_t i = 0; i < m * K; i++) {
    mu[i] = qo.init_given ? w->MU[a * K + i] : 0.0;
    lv[i] = qo.init_given ? w->LV[a * K + i] : 0.0;
  }
  infb_decoder dd = infb_vae_decoder_ops(w->dec);
  infb_vae_decoder_bind(w->dec, m, w->X + a * D);
  int st = infb_qstar_optimize(&dd, &qo, m, w->Xd + a * D, w->set.first_index + a, mu, lv, qp);
  infb_vae_decoder_bind(w->dec, 0, NULL);
  for (size_t i = 0; !st && i < m; i++) {
    out[i] = qp[i].elbo;
    out[m + i] = qp[i].elbo_mc_se;
    out[2 * m + i] = (double)qp[i].steps;
    out[3 * m + i] = (double)qp[i].stop;
  }
  free(qp);
  return st;
}

/* IWAE-k in batches of B from a, proposal MU, LV (NULL: the encoder's). */
static int
group_iwae(infb_vae_groups *w, size_t a, size_t m, double *out)
{
  const size_t D = w->set.arch.D, K = w->set.arch.K, B = w->set.B, k = w->set.iwae_k;
  const int qs = w->set.phase == INFB_VP_IWAE_QSTAR;
  const char *purpose = qs ? "evaluate/iwae-qstar" : "evaluate/iwae";
  const float *MU = qs || w->set.no_encoder ? w->MU : NULL;
  const float *LV = qs || w->set.no_encoder ? w->LV : NULL;
  gsl_rng **rngs = infb_calloc(B, sizeof *rngs);
  /* The points' log-weights, for their PSIS k̂ (B·k doubles: 4 MB at the protocol's). */
  double *lw = infb_malloc(B * k, sizeof *lw), *work = infb_malloc(k, sizeof *work);
  int st = rngs && lw && work ? GSL_SUCCESS : GSL_ENOMEM;
  double *iw = out, *se = out + m, *khat = out + 2 * m, *kst = out + 3 * m;
  for (size_t i0 = 0; !st && i0 < m; i0 += B) {
    size_t c = m - i0 < B ? m - i0 : B, p = a + i0;
    for (size_t j = 0; j < c; j++)
      if (!(rngs[j] = infb_rng_sampler(w->set.qstar.seed, purpose, w->set.first_index + p + j)))
        st = GSL_ENOMEM;
    if (!st)
      st = infb_vae_iwae_lw_f32(w->v, c, w->X + p * D, MU ? MU + p * K : NULL,
                                LV ? LV + p * K : NULL, k, rngs, iw + i0, se + i0, lw);
    for (size_t j = 0; !st && j < c; j++) {
      double kh = NAN;
      kst[i0 + j] = infb_psis_khat(k, lw + j * k, work, &kh);
      khat[i0 + j] = kh;
    }
    for (size_t j = 0; j < c; j++) {
      gsl_rng_free(rngs[j]);
      rngs[j] = NULL;
    }
  }
  free(rngs);
  free(lw);
  free(work);
  return st;
}

/* The encoder's q of points [a, a + m) from calls of one fixed shape, a row tile of P rows
 * with each point at the slot its index fixes (padding: the chunk's first point), so that
 * q, like AIS's own rows, does not depend on which points are evaluated. */
static int
tile_encode(infb_vae_groups *w, size_t a, size_t m, double *qmu, double *qlv)
{
  const size_t D = w->set.arch.D, K = w->set.arch.K, f = w->set.first_index;
  const size_t P = w->set.ais.tile_points ? w->set.ais.tile_points : 1;
  float *Xt = infb_malloc(P * D, sizeof *Xt);
  float *Mt = infb_malloc(P * K, sizeof *Mt), *Lt = infb_malloc(P * K, sizeof *Lt);
  int st = Xt && Mt && Lt ? GSL_SUCCESS : GSL_ENOMEM;
  for (size_t i0 = 0, c = 0; !st && i0 < m; i0 += c) {
    const size_t slot0 = (f + a + i0) % P;
    c = P - slot0 < m - i0 ? P - slot0 : m - i0;
    for (size_t r = 0; r < P; r++) {
      size_t i = r >= slot0 && r < slot0 + c ? i0 + r - slot0 : i0;
      memcpy(Xt + r * D, w->X + (a + i) * D, D * sizeof *Xt);
    }
    st = infb_vae_encode_f32(w->v, P, Xt, Mt, Lt);
    for (size_t j = 0; !st && j < c; j++)
      for (size_t k = 0; k < K; k++) {
        qmu[(i0 + j) * K + k] = Mt[(slot0 + j) * K + k];
        qlv[(i0 + j) * K + k] = Lt[(slot0 + j) * K + k];
      }
  }
  free(Xt);
  free(Mt);
  free(Lt);
  return st;
}

static int
group_ais(infb_vae_groups *w, size_t a, size_t m, double *out)
{
  const size_t D = w->set.arch.D, K = w->set.arch.K, R = w->set.trace_rows;
  infb_ais_options ao = w->set.ais;
  ao.threads = infb_vae_run_threads_f32(w->v);
  ao.progress = NULL;
  double *qmu = NULL, *qlv = NULL;
  infb_ais_point *res = infb_calloc(m, sizeof *res);
  infb_ais_trace *tr = infb_calloc(m, sizeof *tr);
  int st = res && tr ? GSL_SUCCESS : GSL_ENOMEM;
  if (!st && ao.init == INFB_AIS_ENCODER) {
    qmu = infb_malloc(m * K, sizeof *qmu);
    qlv = infb_malloc(m * K, sizeof *qlv);
    if (!qmu || !qlv)
      st = GSL_ENOMEM;
    else if (w->set.no_encoder && !w->MU)
      st = INFB_ERROR(GSL_EINVAL, "AIS from the encoder's q: this estimator has no q "
                                  "([ais] init = prior)");
    else if (w->set.no_encoder)
      for (size_t i = 0; i < m * K; i++) {
        qmu[i] = w->MU[a * K + i];
        qlv[i] = w->LV[a * K + i];
      }
    else
      st = tile_encode(w, a, m, qmu, qlv);
  }
  /* The traced points' diagnostics, written after the per-point numbers. */
  double *tbuf = out + 7 * m;
  for (size_t j = 0; !st && j < m; j++)
    if (a + j < w->set.ntrace) {
      tr[j] = (infb_ais_trace){w->set.trace_stride, R, tbuf, tbuf + R, tbuf + 2 * R,
                               tbuf + 3 * R};
      for (size_t r = 0; r < 4 * R; r++)
        tbuf[r] = NAN;
      tbuf += 4 * R;
    }
  infb_decoder dd = infb_vae_decoder_ops(w->dec);
  if (!st) {
    infb_vae_decoder_bind(w->dec, m, w->X + a * D); /* the group's points, read in place */
    st = infb_ais_run(&dd, &ao, m, w->Xd + a * D, w->set.first_index + a, qmu, qlv, NULL, res,
                      NULL, tr, NULL);
    infb_vae_decoder_bind(w->dec, 0, NULL);
  }
  for (size_t j = 0; !st && j < m; j++) {
    out[j] = res[j].log_px;
    out[m + j] = res[j].mc_se;
    out[2 * m + j] = res[j].ess;
    out[3 * m + j] = res[j].accept;
    out[4 * m + j] = res[j].step_final;
    out[5 * m + j] = res[j].status;
    out[6 * m + j] = res[j].low_ess;
  }
  free(res);
  free(tr);
  free(qmu);
  free(qlv);
  return st;
}

/* BDMC's forward and reverse AIS (infer/bdmc.h) from the prior and from Z. */
static int
group_bdmc(infb_vae_groups *w, size_t a, size_t m, double *out)
{
  const size_t D = w->set.arch.D, K = w->set.arch.K;
  infb_ais_options ao = w->set.ais;
  ao.threads = infb_vae_run_threads_f32(w->v);
  ao.progress = NULL;
  infb_ais_point *fw = infb_calloc(m, sizeof *fw), *rv = infb_calloc(m, sizeof *rv);
  int st = fw && rv && w->Z ? GSL_SUCCESS : GSL_ENOMEM;
  infb_decoder dd = infb_vae_decoder_ops(w->dec);
  if (!st) {
    infb_vae_decoder_bind(w->dec, m, w->X + a * D);
    st = infb_ais_run(&dd, &ao, m, w->Xd + a * D, w->set.first_index + a, NULL, NULL,
                      w->Z + a * K, fw, rv, NULL, NULL);
    infb_vae_decoder_bind(w->dec, 0, NULL);
  }
  for (size_t j = 0; !st && j < m; j++) {
    out[j] = fw[j].log_px;
    out[m + j] = fw[j].mc_se;
    out[2 * m + j] = rv[j].log_px;
    out[3 * m + j] = rv[j].mc_se;
  }
  free(fw);
  free(rv);
  return st;
}

int
infb_vae_groups_run(void *self, size_t g, void *res, size_t *len)
{
  infb_vae_groups *w = self;
  if (g >= w->set.ngroups)
    return INFB_ERROR(GSL_EINVAL, "gap report: group %zu of %zu", g, w->set.ngroups);
  const size_t a = w->start[g], m = w->start[g + 1] - a;
  double *out = res;
  size_t n = m * per_point(&w->set);
  int st;
  switch (w->set.phase) {
  case INFB_VP_LQ:
    st = group_lq(w, a, m, out);
    break;
  case INFB_VP_QSTAR:
    st = group_qstar(w, a, m, out);
    break;
  case INFB_VP_IWAE_ENCODER:
  case INFB_VP_IWAE_QSTAR:
    st = group_iwae(w, a, m, out);
    break;
  case INFB_VP_AIS:
    for (size_t i = a; i < a + m; i++)
      n += i < w->set.ntrace ? 4 * w->set.trace_rows : 0;
    st = group_ais(w, a, m, out);
    break;
  case INFB_VP_BDMC:
    st = group_bdmc(w, a, m, out);
    break;
  case INFB_VP_QUADRATURE:
    st = infb_vae_quadrature_f32(w->v, m, w->X + a * w->set.arch.D, w->set.quad_L,
                                 w->set.quad_n, out);
    break;
  default:
    st = INFB_ERROR(GSL_EINVAL, "gap report: no phase %d", w->set.phase);
  }
  *len = n * sizeof(double);
  return st;
}

int
infb_vae_groups_store(const infb_vae_groups *w, size_t g, const void *res, size_t len,
                      infb_gap_state *s, infb_ais_trace *t)
{
  const int phase = w->set.phase;
  if (phase == INFB_VP_BDMC || phase == INFB_VP_QUADRATURE)
    return INFB_ERROR(GSL_EINVAL, "gap report: these groups are not stored in a state");
  if (phase < INFB_VP_LQ || phase > INFB_VP_AIS)
    return INFB_ERROR(GSL_EINVAL, "gap report: no phase %d", phase);
  if (g >= w->set.ngroups)
    return INFB_ERROR(GSL_EINVAL, "gap report: group %zu of %zu", g, w->set.ngroups);
  const size_t a = w->start[g], m = w->start[g + 1] - a, K = w->set.arch.K;
  const size_t R = w->set.trace_rows, nt = w->set.ntrace;
  if (a + m > s->n || K != s->K || (phase == INFB_VP_AIS && a + m > s->ais_n))
    return INFB_ERROR(GSL_EBADLEN,
                      "gap report: group %zu, points [%zu, %zu) with K = %zu, does not fit a "
                      "state of %zu points (AIS: %zu) with K = %zu",
                      g, a, a + m, K, s->n, s->ais_n, s->K);
  /* The result's doubles: per point, then AIS's traced points' traces (overflow-safe). */
  size_t want = infb_mul_add(m, per_point(&w->set), 0);
  if (phase == INFB_VP_AIS && nt > a)
    want = infb_mul_add((nt < a + m ? nt : a + m) - a, infb_mul_add(4, R, 0), want);
  if (want > SIZE_MAX / sizeof(double) || len != want * sizeof(double))
    return INFB_ERROR(GSL_EBADLEN, "gap report: a group's result of %zu bytes, not %zu doubles",
                      len, want);
  double *v = infb_malloc(want ? want : 1, sizeof *v);
  if (!v)
    return GSL_ENOMEM;
  memcpy(v, res, len); /* aligned */
  /* Counts and statuses travel as doubles: each must be one before anything is stored. */
  for (size_t i = 0; i < m; i++) {
    size_t c;
    int k, bad = 0;
    if (phase == INFB_VP_QSTAR)
      bad = infb_par_result_count(v[2 * m + i], &c) || infb_par_result_int(v[3 * m + i], &k);
    else if (phase == INFB_VP_IWAE_ENCODER || phase == INFB_VP_IWAE_QSTAR)
      bad = infb_par_result_int(v[3 * m + i], &k);
    else if (phase == INFB_VP_AIS)
      bad = infb_par_result_int(v[5 * m + i], &k) || infb_par_result_int(v[6 * m + i], &k);
    if (bad) {
      free(v);
      return INFB_ERROR(GSL_EINVAL,
                        "gap report: group %zu's result has a count or status that is not an "
                        "integer in range at point %zu",
                        g, a + i);
    }
  }
  switch (phase) {
  case INFB_VP_LQ:
    memcpy(s->q_elbo + a, v, m * sizeof *v);
    memcpy(s->q_se + a, v + m, m * sizeof *v);
    break;
  case INFB_VP_QSTAR:
    memcpy(s->qs_elbo + a, v, m * sizeof *v);
    memcpy(s->qs_se + a, v + m, m * sizeof *v);
    for (size_t i = 0; i < m; i++) {
      infb_par_result_count(v[2 * m + i], &s->qs_steps[a + i]);
      infb_par_result_int(v[3 * m + i], &s->qs_stop[a + i]);
    }
    memcpy(s->qs_mu + a * K, v + 4 * m, m * K * sizeof *v);
    memcpy(s->qs_lv + a * K, v + 4 * m + m * K, m * K * sizeof *v);
    break;
  case INFB_VP_IWAE_ENCODER:
  case INFB_VP_IWAE_QSTAR: {
    int p = phase == INFB_VP_IWAE_QSTAR;
    memcpy(s->iw[p] + a, v, m * sizeof *v);
    memcpy(s->iw_se[p] + a, v + m, m * sizeof *v);
    memcpy(s->khat[p] + a, v + 2 * m, m * sizeof *v);
    for (size_t i = 0; i < m; i++)
      infb_par_result_int(v[3 * m + i], &s->khat_status[p][a + i]);
    break;
  }
  default: {
    memcpy(s->ais_lp + a, v, m * sizeof *v);
    memcpy(s->ais_se + a, v + m, m * sizeof *v);
    memcpy(s->ais_ess + a, v + 2 * m, m * sizeof *v);
    memcpy(s->ais_accept + a, v + 3 * m, m * sizeof *v);
    memcpy(s->ais_step + a, v + 4 * m, m * sizeof *v);
    for (size_t i = 0; i < m; i++) {
      infb_par_result_int(v[5 * m + i], &s->ais_status[a + i]);
      infb_par_result_int(v[6 * m + i], &s->ais_low_ess[a + i]);
    }
    const double *tb = v + 7 * m;
    for (size_t i = a; i < a + m && i < nt; i++) {
      if (t && t[i].rows == R) {
        memcpy(t[i].beta, tb, R * sizeof *tb);
        memcpy(t[i].logw, tb + R, R * sizeof *tb);
        memcpy(t[i].accept, tb + 2 * R, R * sizeof *tb);
        memcpy(t[i].step, tb + 3 * R, R * sizeof *tb);
      }
      tb += 4 * R;
    }
  }
  }
  free(v);
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ the context */

int
infb_vae_groups_context(void *self, void **out, size_t *len)
{
  infb_vae_groups *w = self;
  const size_t D = w->set.arch.D, K = w->set.arch.K, n = w->set.n;
  size_t np = 0;
  const float *params = infb_vae_params_f32(w->v, &np);
  infb_vae_groups_settings set = w->set;
  set.nparams = np;
  set.has_mu = w->MU && w->LV;
  set.has_z = w->Z != NULL;
  set.qstar.progress = NULL;
  set.qstar.progress_ctx = NULL;
  set.ais.progress = NULL;
  set.ais.progress_ctx = NULL;
  infb_blas_blocking(&set.blas_nc, &set.blas_kc);
  set.blas_threaded = infb_blas_threads() > 1;
  size_t total = sizeof set + (set.ngroups + 1) * sizeof *w->start + np * sizeof(float) +
                 n * D * sizeof(float) + (set.has_mu ? 2 * n * K * sizeof(float) : 0) +
                 (set.has_z ? n * K * sizeof(double) : 0);
  char *buf = infb_malloc(total, 1);
  if (!buf)
    return GSL_ENOMEM;
  size_t at = 0;
  infb_bytes_put(buf, &at, &set, sizeof set);
  infb_bytes_put(buf, &at, w->start, (set.ngroups + 1) * sizeof *w->start);
  infb_bytes_put(buf, &at, params, np * sizeof(float));
  infb_bytes_put(buf, &at, w->X, n * D * sizeof(float));
  if (set.has_mu) {
    infb_bytes_put(buf, &at, w->MU, n * K * sizeof(float));
    infb_bytes_put(buf, &at, w->LV, n * K * sizeof(float));
  }
  if (set.has_z)
    infb_bytes_put(buf, &at, w->Z, n * K * sizeof(double));
  *out = buf;
  *len = total;
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ serving ranks */

static size_t serve_threads = 1;

void
infb_vae_groups_set_threads(size_t threads)
{
  serve_threads = threads ? threads : 1;
}

static void
serve_teardown(void *self)
{
  infb_vae_groups *w = self;
  if (!w)
    return;
  infb_vae_decoder_free(w->dec);
  infb_vae_free_f32(w->v);
  free(w->start);
  free((void *)w->X);
  free((void *)w->Xd);
  free((void *)w->MU);
  free((void *)w->LV);
  free((void *)w->Z);
  free(w);
}

/* The bytes of this node's memory (SIZE_MAX when unknown). */
static size_t
node_memory(void)
{
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? infb_mul_add((size_t)pages, (size_t)page, 0) : SIZE_MAX;
}

/* The parameters of a network of architecture a as nn/mlp.h lays them out, (fan_in + 1) ×
 * fan_out per layer: the encoder [D, enc_hidden…, 2K], the decoder [K, dec_hidden…, D];
 * SIZE_MAX on overflow.  a is valid (check_settings). */
static size_t
arch_nparams(const infb_vae_arch *a)
{
  size_t enc[sizeof a->enc_hidden / sizeof a->enc_hidden[0] + 2];
  size_t dec[sizeof a->dec_hidden / sizeof a->dec_hidden[0] + 2], np = 0;
  enc[0] = a->D;
  dec[0] = a->K;
  for (size_t l = 0; l < a->nenc; l++)
    enc[l + 1] = a->enc_hidden[l];
  for (size_t l = 0; l < a->ndec; l++)
    dec[l + 1] = a->dec_hidden[l];
  enc[a->nenc + 1] = infb_mul_add(2, a->K, 0);
  dec[a->ndec + 1] = a->D;
  for (size_t l = 0; l <= a->nenc; l++) /* (infb_mul_add(1, x, 1): x + 1 without wrapping) */
    np = infb_mul_add(enc[l + 1], infb_mul_add(1, enc[l], 1), np);
  for (size_t l = 0; l <= a->ndec; l++)
    np = infb_mul_add(dec[l + 1], infb_mul_add(1, dec[l], 1), np);
  return np;
}

/* Whether settings s received in a context of clen bytes describe a job this rank can set
 * up: a phase, a valid network whose parameters are those sent, room for its
 * workspaces, AIS's tiles and traces, and exactly clen bytes of context.  Every size is
 * checked here, overflow-safe, before anything is allocated from it.  Returns a status
 * (GSL_EINVAL, GSL_EBADLEN) with a message. */
static int
check_settings(const infb_vae_groups_settings *s, size_t clen)
{
  enum { MAXH = sizeof s->arch.enc_hidden / sizeof s->arch.enc_hidden[0] };
  const infb_vae_arch *a = &s->arch;
  const size_t n = s->n, D = a->D, K = a->K;
  if (s->phase < INFB_VP_LQ || s->phase > INFB_VP_QUADRATURE)
    return INFB_ERROR(GSL_EINVAL, "gap report: no phase %d", s->phase);
  if (D == 0 || K == 0 || a->nenc > MAXH || a->ndec > MAXH || (int)a->act < 0 ||
      (int)a->act >= INFB_ACT_COUNT)
    return INFB_ERROR(GSL_EINVAL,
                      "gap report: no network has D = %zu, K = %zu, %zu and %zu hidden layers "
                      "and activation %d",
                      D, K, a->nenc, a->ndec, (int)a->act);
  size_t width = infb_mul_add(1, D, K); /* a workspace row holds at least every layer's units */
  for (size_t l = 0; l < a->nenc + a->ndec; l++) {
    size_t h = l < a->nenc ? a->enc_hidden[l] : a->dec_hidden[l - a->nenc];
    if (h == 0)
      return INFB_ERROR(GSL_EINVAL, "gap report: a hidden layer of width 0");
    width = infb_mul_add(1, width, h);
  }
  const size_t np = arch_nparams(a);
  if (np != s->nparams)
    return INFB_ERROR(GSL_EBADLEN, "gap report: %zu parameters sent, the network has %zu",
                      s->nparams, np);
  if (s->B == 0 || s->S == 0 || s->parts == 0 || s->parts > INFB_VAE_MAX_PARTS)
    return INFB_ERROR(GSL_EINVAL,
                      "gap report: a network for batches of %zu × %zu samples (at least 1) in "
                      "%zu parts (1 to %d)",
                      s->B, s->S, s->parts, INFB_VAE_MAX_PARTS);
  const size_t mem = node_memory();
  if (infb_mul_add(infb_mul_add(infb_mul_add(s->B, s->S, 0), s->parts, 0), infb_mul_add(width, sizeof(float), 0),
              0) > mem)
    return INFB_ERROR(GSL_EINVAL,
                      "gap report: a network for batches of %zu × %zu samples in %zu parts needs "
                      "more than this node's %zu bytes",
                      s->B, s->S, s->parts, mem);
  if (s->phase == INFB_VP_AIS || s->phase == INFB_VP_BDMC) {
    const size_t P = s->ais.tile_points;
    const size_t C = s->ais.chains > s->ais.pilot_chains ? s->ais.chains : s->ais.pilot_chains;
    if (P == 0)
      return INFB_ERROR(GSL_EINVAL, "gap report: AIS tiles of 0 points");
    if (infb_mul_add(infb_mul_add(P, C, 0), infb_mul_add(K, sizeof(double), 0), 0) > mem)
      return INFB_ERROR(GSL_EINVAL,
                        "gap report: AIS tiles of %zu points × %zu chains need more than this "
                        "node's %zu bytes",
                        P, C, mem);
  }
  if (s->phase == INFB_VP_AIS &&
      (s->ntrace > n ||
       infb_mul_add(s->ntrace, infb_mul_add(4, s->trace_rows, 0), infb_mul_add(n, per_point(s), 0)) >
           SIZE_MAX / sizeof(double)))
    return INFB_ERROR(GSL_EINVAL, "gap report: AIS traces of %zu rows for %zu of %zu points",
                      s->trace_rows, s->ntrace, n);
  /* The context: the settings, the groups' starts, the parameters, X, then MU and LV, Z. */
  const size_t nK = infb_mul_add(n, K, 0);
  size_t want = infb_mul_add(s->ngroups == SIZE_MAX ? SIZE_MAX : s->ngroups + 1, sizeof(size_t),
                        sizeof *s);
  want = infb_mul_add(np, sizeof(float), want);
  want = infb_mul_add(infb_mul_add(n, D, 0), sizeof(float), want);
  want = s->has_mu ? infb_mul_add(infb_mul_add(2, nK, 0), sizeof(float), want) : want;
  want = s->has_z ? infb_mul_add(nK, sizeof(double), want) : want;
  if (want != clen)
    return INFB_ERROR(GSL_EBADLEN,
                      "gap report: a context of %zu bytes, its settings describe %zu", clen, want);
  /* What each phase's groups read. */
  const int needs_mu = s->phase == INFB_VP_LQ || s->phase == INFB_VP_IWAE_QSTAR ||
                       (s->phase == INFB_VP_QSTAR && s->qstar_init) ||
                       (s->phase == INFB_VP_IWAE_ENCODER && s->no_encoder);
  if ((needs_mu && !s->has_mu) || (s->phase == INFB_VP_BDMC && !s->has_z))
    return INFB_ERROR(GSL_EINVAL, "gap report: phase %d's context lacks its %s", s->phase,
                      needs_mu ? "MU and LV" : "Z");
  return GSL_SUCCESS;
}

static int
serve_setup(const void *ctx, size_t clen, void **self)
{
  infb_vae_groups_settings set;
  if (clen < sizeof set)
    return INFB_ERROR(GSL_EBADLEN, "gap report: a context of %zu bytes, shorter than its "
                                   "settings (%zu)", clen, sizeof set);
  memcpy(&set, ctx, sizeof set);
  int st = check_settings(&set, clen);
  if (st)
    return st;
  /* Another process's pointers: nothing here. */
  set.qstar.progress = NULL;
  set.qstar.progress_ctx = NULL;
  set.ais.progress = NULL;
  set.ais.progress_ctx = NULL;
  infb_vae_groups *w = infb_calloc(1, sizeof *w);
  if (!w)
    return GSL_ENOMEM;
  w->owned = 1;
  w->set = set;
  const size_t D = set.arch.D, K = set.arch.K, n = set.n, nd = n * D > 0 ? n * D : 1;
  size_t *start = infb_malloc(set.ngroups + 1, sizeof *start);
  float *X = infb_malloc(nd, sizeof *X);
  double *Xd = infb_malloc(nd, sizeof *Xd);
  float *MU = set.has_mu ? infb_malloc(n * K, sizeof *MU) : NULL;
  float *LV = set.has_mu ? infb_malloc(n * K, sizeof *LV) : NULL;
  double *Z = set.has_z ? infb_malloc(n * K, sizeof *Z) : NULL;
  w->start = start;
  w->X = X;
  w->Xd = Xd;
  w->MU = MU;
  w->LV = LV;
  w->Z = Z;
  if (!start || !X || !Xd || (set.has_mu && (!MU || !LV)) || (set.has_z && !Z))
    st = GSL_ENOMEM;
  if (!st && !(w->v = infb_vae_alloc_f32(&set.arch, set.B, set.S)))
    st = GSL_ENOMEM;
  if (!st && !(st = infb_vae_set_parts_f32(w->v, set.parts)))
    st = infb_vae_set_run_threads_f32(w->v, serve_threads);
  size_t np = 0;
  float *params = st ? NULL : infb_vae_params_f32(w->v, &np);
  if (!st && np != set.nparams) /* (arch_nparams counts as nn/mlp.h does: never) */
    st = INFB_ERROR(GSL_EBADLEN, "gap report: %zu parameters sent, the network has %zu",
                    set.nparams, np);
  if (!st) {
    size_t at = sizeof set;
    infb_bytes_take(ctx, &at, start, (set.ngroups + 1) * sizeof *start);
    infb_bytes_take(ctx, &at, params, np * sizeof *params);
    infb_bytes_take(ctx, &at, X, n * D * sizeof *X);
    if (set.has_mu) {
      infb_bytes_take(ctx, &at, MU, n * K * sizeof *MU);
      infb_bytes_take(ctx, &at, LV, n * K * sizeof *LV);
    }
    if (set.has_z)
      infb_bytes_take(ctx, &at, Z, n * K * sizeof *Z);
    /* Groups [start[g], start[g + 1]) of the n points, in order. */
    for (size_t g = 0; !st && g <= set.ngroups; g++)
      if ((g > 0 && start[g] < start[g - 1]) || start[g] > n)
        st = INFB_ERROR(GSL_EINVAL, "gap report: group %zu starts at %zu (of %zu points)", g,
                        start[g], n);
  }
  if (!st) {
    for (size_t i = 0; i < n * D; i++)
      Xd[i] = X[i];
    infb_blas_set_blocking(set.blas_nc, set.blas_kc); /* rank 0's */
    infb_blas_set_threads(set.blas_threaded ? (int)serve_threads : 1);
    if (!(w->dec = infb_vae_decoder_alloc(w->v, set.B * set.S)))
      st = GSL_ENOMEM;
    else
      infb_vae_decoder_refresh(w->dec);
  }
  if (st) {
    serve_teardown(w);
    return st;
  }
  *self = w;
  return GSL_SUCCESS;
}

const infb_par_kind infb_vae_groups_kind = {INFB_PAR_KIND_VAE_GAP, serve_setup,
                                            infb_vae_groups_run, serve_teardown};
