/* Tests for nn/act and nn/mlp: activation values and derivatives against their
 * definitions, MLP forward against a plain reference, finite-difference gradient checks
 * (double build) for every activation and several architectures, the slab layout,
 * initialisation, the float build against the double build, and the error paths. */
#include <config.h>
#include "nn/mlp.h"
#include "core/rng.h"
#include "linalg/blas.h"
#include "tap/basic.h"

#include <gsl/gsl_randist.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NARCH 3
#define MAXL 3
/* 0, 1 and 2 hidden layers, odd widths: sizes[0..nlayers]. */
static const size_t arch_nlayers[NARCH] = {1, 2, 3};
static const size_t arch_sizes[NARCH][MAXL + 1] = {{3, 2}, {5, 7, 3}, {4, 7, 5, 3}};
#define BATCH 3
/* Central differences: step and tolerance |fd − g| ≤ FD_TOL·(1 + |g|).  The truncation
 * error is O(h²) ≈ 1e-12 and the rounding error ≈ eps·|L|/h ≈ 1e-9 for |L| ≈ 5. */
#define FD_H 1e-6
#define FD_TOL 1e-6
/* Float against double: a few float roundings per operation on O(1) values. */
#define F32_TOL 1e-5

/* ------------------------------------------------------------------ activations */

#define NPTS 13
static const double pts[NPTS] = {-30, -3, -1, -0.5, -1e-3, -1e-9, 0, 1e-9, 1e-3, 0.5, 1, 3, 30};

/* f(x) and f'(x) from the definitions, in long double. */
static long double
act_def(enum infb_act a, long double x)
{
  switch (a) {
  case INFB_ACT_IDENTITY: return x;
  case INFB_ACT_TANH: return tanhl(x);
  case INFB_ACT_RELU: return x > 0 ? x : 0;
  case INFB_ACT_ELU: return x > 0 ? x : expm1l(x);
  case INFB_ACT_SOFTPLUS: return log1pl(expl(x));
  default: return NAN;
  }
}

static long double
act_def_deriv(enum infb_act a, long double x)
{
  switch (a) {
  case INFB_ACT_IDENTITY: return 1;
  case INFB_ACT_TANH: return 1 / (coshl(x) * coshl(x));
  case INFB_ACT_RELU: return x > 0 ? 1 : 0;
  case INFB_ACT_ELU: return x > 0 ? 1 : expl(x);
  case INFB_ACT_SOFTPLUS: return 1 / (1 + expl(-x));
  default: return NAN;
  }
}

/* The worst of |got_i − want_i| / (tol·(|want_i| + scale_i)) + tiny); scale NULL: 0.
 * A relative bound, plus an absolute one where the kernel derives f'(x) from f(x)
 * (tanh: 1 − y², elu: dY·min(y, 0) + dY): there the rounding of y costs about eps·|dY|
 * absolutely, so for saturated inputs (x = ±30) only an absolute bound holds. */
static double
rel_worst(const double *got, const long double *want, const double *scale, size_t n,
          double tol)
{
  double w = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs(got[i] - (double)want[i]);
    double b = tol * (fabs((double)want[i]) + (scale ? fabs(scale[i]) : 0)) + DBL_MIN;
    if (!isfinite(got[i]))
      return INFINITY;
    if (e / b > w)
      w = e / b;
  }
  return w;
}

#define ACT_TESTS_PER (2 * 2 + 1)
static void
test_activations(void)
{
  double dy[NPTS], y64[NPTS], dx64[NPTS], y[NPTS], dx[NPTS];
  long double want[NPTS], dwant[NPTS];
  float xf[NPTS], yf[NPTS], dyf[NPTS], dxf[NPTS];
  for (size_t i = 0; i < NPTS; i++) {
    dy[i] = 0.5 + 0.25 * (double)i; /* distinct upstream gradients */
    xf[i] = (float)pts[i];
    dyf[i] = (float)dy[i];
  }
  for (int a = 0; a < INFB_ACT_COUNT; a++) {
    const char *name = infb_act_name((enum infb_act)a);
    /* Double build against the definitions at the double points. */
    for (size_t i = 0; i < NPTS; i++) {
      want[i] = act_def((enum infb_act)a, pts[i]);
      dwant[i] = dy[i] * act_def_deriv((enum infb_act)a, pts[i]);
    }
    int st = infb_act_forward_f64(y64, pts, NPTS, (enum infb_act)a);
    double w = rel_worst(y64, want, NULL, NPTS, 4 * DBL_EPSILON);
    ok(st == 0 && w <= 1, "%s f64 forward matches the definition within 4 eps (worst %.2g)",
       name, w);
    st = infb_act_backward_f64(dx64, dy, y64, pts, NPTS, (enum infb_act)a);
    w = rel_worst(dx64, dwant, dy, NPTS, 8 * DBL_EPSILON);
    ok(st == 0 && w <= 1,
       "%s f64 backward dY*f'(x) matches the derivative within 8 eps (worst %.2g)", name, w);
    /* Float build, at the float-rounded points. */
    for (size_t i = 0; i < NPTS; i++) {
      want[i] = act_def((enum infb_act)a, xf[i]);
      dwant[i] = (long double)dyf[i] * act_def_deriv((enum infb_act)a, xf[i]);
    }
    st = infb_act_forward_f32(yf, xf, NPTS, (enum infb_act)a);
    for (size_t i = 0; i < NPTS; i++)
      y[i] = yf[i];
    w = rel_worst(y, want, NULL, NPTS, 4 * FLT_EPSILON);
    ok(st == 0 && w <= 1, "%s f32 forward matches the definition within 4 eps (worst %.2g)",
       name, w);
    st = infb_act_backward_f32(dxf, dyf, yf, xf, NPTS, (enum infb_act)a);
    for (size_t i = 0; i < NPTS; i++)
      dx[i] = dxf[i];
    w = rel_worst(dx, dwant, dy, NPTS, 8 * FLT_EPSILON);
    ok(st == 0 && w <= 1, "%s f32 backward matches the derivative within 8 eps (worst %.2g)",
       name, w);
    /* Finite differences of the double forward, away from relu's kink at 0. */
    double worst_fd = 0;
    for (size_t i = 0; i < NPTS; i++) {
      if (fabs(pts[i]) < 1e-3)
        continue;
      double xp = pts[i] + FD_H, xm = pts[i] - FD_H, fp, fm;
      infb_act_forward_f64(&fp, &xp, 1, (enum infb_act)a);
      infb_act_forward_f64(&fm, &xm, 1, (enum infb_act)a);
      double fd = dy[i] * (fp - fm) / (2 * FD_H);
      double e = fabs(fd - dx64[i]) / (1 + fabs(dx64[i]));
      if (e > worst_fd)
        worst_fd = e;
    }
    ok(worst_fd <= FD_TOL, "%s backward agrees with central differences (worst %.2g)", name,
       worst_fd);
  }

  /* Softplus never overflows: ln(1 + e^1000) = 1000, ln(1 + e^-1000) = e^-1000 → 0. */
  double big[2] = {1000, -1000}, sb[2], gb[2], one[2] = {1, 1};
  infb_act_forward_f64(sb, big, 2, INFB_ACT_SOFTPLUS);
  infb_act_backward_f64(gb, one, sb, big, 2, INFB_ACT_SOFTPLUS);
  ok(sb[0] == 1000 && sb[1] == 0 && gb[0] == 1 && gb[1] == 0,
     "softplus(+-1000) = 1000, 0 and sigmoid(+-1000) = 1, 0 without overflow (got %g %g %g %g)",
     sb[0], sb[1], gb[0], gb[1]);
  float bigf[2] = {100, -100}, sbf[2], gbf[2], onef[2] = {1, 1};
  infb_act_forward_f32(sbf, bigf, 2, INFB_ACT_SOFTPLUS);
  infb_act_backward_f32(gbf, onef, sbf, bigf, 2, INFB_ACT_SOFTPLUS);
  ok(sbf[0] == 100 && sbf[1] >= 0 && sbf[1] < 1e-40f && gbf[0] == 1 && gbf[1] < 1e-40f,
     "f32 softplus(+-100) = 100, ~0 and sigmoid = 1, ~0 without overflow");
  /* A NaN input stays NaN through every activation (NaN checks downstream rely on it). */
  int nan_ok = 1;
  for (int a = 0; a < INFB_ACT_COUNT; a++) {
    double xn = NAN, yn = 0;
    infb_act_forward_f64(&yn, &xn, 1, (enum infb_act)a);
    nan_ok &= isnan(yn);
  }
  ok(nan_ok, "every activation maps NaN to NaN");
  /* ELU's vector paths (16-float AVX-512 block, 8-float AVX2 block, scalar tail: a row of
   * 27) against the definition, every value in every lane. */
  {
    enum { NR = 27, NV = 101 };
    float xr[NR], yr[NR];
    double worst = 0;
    for (int j = 0; j < NV; j++) {
      double xv = -20.0 + 40.0 * j / (NV - 1) + 1e-3; /* [-20, 20], 0 excluded */
      for (int p = 0; p < NR; p++) {
        for (int i = 0; i < NR; i++)
          xr[i] = i == p ? (float)xv : -1.0f;
        infb_act_forward_f32(yr, xr, NR, INFB_ACT_ELU);
        long double ref = act_def(INFB_ACT_ELU, (long double)xr[p]);
        double e = fabs((double)(yr[p] - ref)) / (4 * FLT_EPSILON * fabs((double)ref));
        worst = fmax(worst, e);
      }
    }
    ok(worst <= 1, "elu f32 on rows of 27 (16 + 8 + 3 lanes): within 4 eps of expm1 in every "
                   "lane for x in [-20, 20] (worst %.2g of the bound)", worst);
  }
  /* The vector expm1 on a dense sweep of x ≤ 0: 2·10⁵ evenly spaced values in [-100, 0)
   * and every power-of-2 magnitude from denormals up, each with 7 mantissas (the series
   * near 0, every range-reduction n, the clamp at -88). */
  {
    enum { NU = 200000, NE = 7 * 280 };
    float *xs = malloc((NU + NE) * sizeof *xs), *ys = malloc((NU + NE) * sizeof *ys);
    size_t n = 0;
    for (int j = 0; j < NU; j++)
      xs[n++] = (float)(-100.0 * (j + 1) / NU);
    for (int e = -149; e < 131 && n < NU + NE; e++)
      for (int m = 0; m < 7; m++)
        xs[n++] = -ldexpf(1.0f + m / 7.0f, e) > -100.0f ? -ldexpf(1.0f + m / 7.0f, e) : -1.0f;
    infb_act_forward_f32(ys, xs, n, INFB_ACT_ELU);
    double worst = 0;
    float at = 0;
    for (size_t i = 0; i < n; i++) {
      long double ref = expm1l((long double)xs[i]);
      double e = fabs((double)(ys[i] - ref)) / (4 * FLT_EPSILON * fabs((double)ref));
      if (!(e <= worst)) {
        worst = e;
        at = xs[i];
      }
    }
    ok(worst <= 1, "elu f32, %zu values of x < 0 from -100 to denormals: within 4 eps of "
                   "expm1 (worst %.2g of the bound, at x = %g)", n, worst, (double)at);
    free(xs);
    free(ys);
  }
  /* The same through the vector paths (long rows: NaN and infinities in every lane). */
  {
    enum { NV = 19 };
    float xv[NV], yv[NV];
    double xd[NV], yd[NV];
    int vec_ok = 1;
    for (int a = 0; a < INFB_ACT_COUNT; a++) {
      for (int i = 0; i < NV; i++)
        xd[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? -INFINITY : INFINITY;
      for (int i = 0; i < NV; i++)
        xv[i] = (float)xd[i];
      infb_act_forward_f32(yv, xv, NV, (enum infb_act)a);
      infb_act_forward_f64(yd, xd, NV, (enum infb_act)a);
      for (int i = 0; i < NV; i++) {
        double def = (double)act_def((enum infb_act)a, (long double)xd[i]);
        int same = isnan(xd[i]) ? isnan(yv[i]) && isnan(yd[i])
                               : (double)yv[i] == def && yd[i] == def;
        vec_ok &= same;
      }
    }
    ok(vec_ok, "rows of 19 with NaN and +-inf in every lane: every activation gives the "
               "NaN for NaN and the definition's values at +-inf, in both precisions");
  }

  /* Names. */
  int round = 1;
  for (int a = 0; a < INFB_ACT_COUNT; a++)
    round &= infb_act_parse(infb_act_name((enum infb_act)a)) == a;
  ok(round, "infb_act_parse(infb_act_name(a)) == a for every activation");
  is_int(INFB_ACT_ELU, infb_act_parse("elu"), "infb_act_parse(\"elu\") is INFB_ACT_ELU");
  is_int(INFB_ACT_INVALID, infb_act_parse("ELU"), "names are case-sensitive: \"ELU\" is invalid");
  is_int(INFB_ACT_INVALID, infb_act_parse("sigmoid"), "an unknown name is INFB_ACT_INVALID");
  is_int(INFB_ACT_INVALID, infb_act_parse(NULL), "NULL is INFB_ACT_INVALID");
  ok(infb_act_name(INFB_ACT_COUNT) == NULL && infb_act_name(INFB_ACT_INVALID) == NULL,
     "infb_act_name of an invalid value is NULL");
  double x0 = 1, y0;
  is_int(GSL_EINVAL, infb_act_forward_f64(&y0, &x0, 1, INFB_ACT_COUNT),
         "act_forward rejects an invalid activation with GSL_EINVAL");
  is_int(GSL_EINVAL, infb_act_backward_f32(NULL, NULL, NULL, NULL, 0, INFB_ACT_INVALID),
         "act_backward rejects an invalid activation with GSL_EINVAL");
}
#define ACT_TESTS (INFB_ACT_COUNT * ACT_TESTS_PER + 5 + 9)

/* ------------------------------------------------------------------ mlp reference */

/* The documented slab offsets: layer l's W (sizes[l+1] × sizes[l]) then b (sizes[l+1]). */
static void
ref_offsets(const size_t *sizes, size_t nl, size_t *offW, size_t *offb, size_t *total)
{
  size_t off = 0;
  for (size_t l = 0; l < nl; l++) {
    offW[l] = off;
    off += sizes[l + 1] * sizes[l];
    offb[l] = off;
    off += sizes[l + 1];
  }
  *total = off;
}

/* Y = the network of mlp.h's comment at X, in long double from the documented layout;
 * returns min |Z| over hidden pre-activations (the distance to relu's kink). */
static double
ref_forward(double *Y, const double *theta, const size_t *sizes, size_t nl, enum infb_act act,
            const double *X, size_t B)
{
  size_t offW[MAXL], offb[MAXL], total;
  ref_offsets(sizes, nl, offW, offb, &total);
  long double a[16], z[16];
  double kink = INFINITY;
  for (size_t r = 0; r < B; r++) {
    for (size_t k = 0; k < sizes[0]; k++)
      a[k] = X[r * sizes[0] + k];
    for (size_t l = 0; l < nl; l++) {
      for (size_t j = 0; j < sizes[l + 1]; j++) {
        long double s = theta[offb[l] + j];
        for (size_t k = 0; k < sizes[l]; k++)
          s += (long double)theta[offW[l] + j * sizes[l] + k] * a[k];
        z[j] = s;
      }
      for (size_t j = 0; j < sizes[l + 1]; j++) {
        if (l + 1 < nl && fabsl(z[j]) < kink)
          kink = (double)fabsl(z[j]);
        a[j] = l + 1 < nl ? act_def(act, z[j]) : z[j];
      }
    }
    for (size_t j = 0; j < sizes[nl]; j++)
      Y[r * sizes[nl] + j] = (double)a[j];
  }
  return kink;
}

/* L = Σ c∘Y with the network's own forward (double build), summed in double. */
static double
loss64(infb_mlp_f64 *m, const double *X, const double *c, double *Y)
{
  infb_mlp_forward_f64(m, BATCH, X, Y);
  double L = 0;
  for (size_t i = 0; i < BATCH * infb_mlp_out_size_f64(m); i++)
    L += c[i] * Y[i];
  return L;
}

static double *
uniform(gsl_rng *r, size_t n, double lo, double hi)
{
  double *x = malloc((n ? n : 1) * sizeof *x);
  for (size_t i = 0; i < n; i++)
    x[i] = lo + (hi - lo) * gsl_rng_uniform(r);
  return x;
}

/* ------------------------------------------------------------------ per architecture */

#define GRAD_TESTS_PER 7
static void
test_gradients(gsl_rng *r, size_t ai, enum infb_act act)
{
  const size_t *sizes = arch_sizes[ai];
  size_t nl = arch_nlayers[ai], in = sizes[0], out = sizes[nl];
  const char *an = infb_act_name(act);
  infb_mlp_f64 *m = infb_mlp_alloc_f64(sizes, nl, act, BATCH);
  gsl_rng *ri = infb_rng_stream(7, "tests/nn/mlp/init", ai);
  infb_mlp_init_f64(m, ri);
  gsl_rng_free(ri);
  size_t np;
  double *theta = infb_mlp_params_f64(m, &np);
  double *X = uniform(r, BATCH * in, -2, 2), *c = uniform(r, BATCH * out, -1, 1);
  double *Y = malloc(BATCH * out * sizeof *Y), *Yr = malloc(BATCH * out * sizeof *Yr);
  double *dX = malloc(BATCH * in * sizeof *dX);

  /* Forward against the reference. */
  double kink = ref_forward(Yr, theta, sizes, nl, act, X, BATCH);
  int st = infb_mlp_forward_f64(m, BATCH, X, Y);
  double w = 0;
  for (size_t i = 0; i < BATCH * out; i++)
    w = fmax(w, fabs(Y[i] - Yr[i]) / (1 + fabs(Yr[i])));
  ok(st == 0 && w <= 1e-13, "%zu hidden, %s: forward matches the reference loops (worst %.2g)",
     nl - 1, an, w);
  if (kink < 100 * FD_H)
    diag("a hidden pre-activation is %.2g from 0: finite differences may straddle a kink",
         kink);

  /* Analytic gradients: dY = c for L = Σ c∘Y. */
  infb_mlp_zero_grad_f64(m);
  st = infb_mlp_backward_f64(m, BATCH, X, c, dX);
  double *g = infb_mlp_grads_f64(m, NULL);

  /* Every parameter by central differences. */
  double werr = 0, gmax = 0;
  for (size_t i = 0; i < np; i++) {
    double t0 = theta[i];
    theta[i] = t0 + FD_H;
    double Lp = loss64(m, X, c, Y);
    theta[i] = t0 - FD_H;
    double Lm = loss64(m, X, c, Y);
    theta[i] = t0;
    double fd = (Lp - Lm) / (2 * FD_H);
    werr = fmax(werr, fabs(fd - g[i]) / (1 + fabs(g[i])));
    gmax = fmax(gmax, fabs(g[i]));
  }
  ok(st == 0 && werr <= FD_TOL,
     "%zu hidden, %s: dL/dtheta matches central differences for all %zu parameters (worst %.2g)",
     nl - 1, an, np, werr);
  /* Guard: the gradient reaches every block of the slab. */
  size_t nt;
  const struct infb_nn_tensor *lay = infb_mlp_layout_f64(m, &nt);
  int every = 1;
  for (size_t t = 0; t < nt; t++) {
    double bm = 0;
    for (size_t i = 0; i < lay[t].length; i++)
      bm = fmax(bm, fabs(g[lay[t].offset + i]));
    every &= bm > 1e-3;
  }
  ok(every && gmax > 1e-2, "%zu hidden, %s: the gradient is nonzero in every block (max %.3g)",
     nl - 1, an, gmax);

  /* The input by central differences. */
  double xerr = 0, xmax = 0;
  for (size_t i = 0; i < BATCH * in; i++) {
    double x0 = X[i];
    X[i] = x0 + FD_H;
    double Lp = loss64(m, X, c, Y);
    X[i] = x0 - FD_H;
    double Lm = loss64(m, X, c, Y);
    X[i] = x0;
    double fd = (Lp - Lm) / (2 * FD_H);
    xerr = fmax(xerr, fabs(fd - dX[i]) / (1 + fabs(dX[i])));
    xmax = fmax(xmax, fabs(dX[i]));
  }
  ok(xerr <= FD_TOL && xmax > 1e-2,
     "%zu hidden, %s: dL/dX matches central differences (worst %.2g, max |dX| %.3g)", nl - 1,
     an, xerr, xmax);

  /* Accumulation: a second backward doubles the gradient; dX = NULL changes nothing else;
   * backward_input gives the same dX and leaves the gradient alone. */
  double *g1 = malloc(np * sizeof *g1), *dX1 = malloc(BATCH * in * sizeof *dX1);
  memcpy(g1, g, np * sizeof *g1);
  memcpy(dX1, dX, BATCH * in * sizeof *dX1);
  infb_mlp_forward_f64(m, BATCH, X, Y);
  st = infb_mlp_backward_f64(m, BATCH, X, c, NULL);
  double acc = 0;
  for (size_t i = 0; i < np; i++)
    acc = fmax(acc, fabs(g[i] - 2 * g1[i]) / (1 + fabs(g1[i])));
  ok(st == 0 && acc <= 1e-14,
     "%zu hidden, %s: a second backward (dX NULL) accumulates to twice the gradient", nl - 1,
     an);
  memcpy(g1, g, np * sizeof *g1);
  memset(dX, 0, BATCH * in * sizeof *dX);
  st = infb_mlp_backward_input_f64(m, BATCH, c, dX);
  ok(st == 0 && memcmp(dX, dX1, BATCH * in * sizeof *dX) == 0 &&
         memcmp(g, g1, np * sizeof *g) == 0,
     "%zu hidden, %s: backward_input gives the same dX and leaves the gradient slab alone",
     nl - 1, an);

  /* The float build on the same (rounded) parameters and inputs. */
  infb_mlp_f32 *mf = infb_mlp_alloc_f32(sizes, nl, act, BATCH);
  float *thf = infb_mlp_params_f32(mf, NULL);
  for (size_t i = 0; i < np; i++)
    thf[i] = (float)theta[i];
  float Xf[BATCH * 8], cf[BATCH * 8], Yf[BATCH * 8], dXf[BATCH * 8];
  for (size_t i = 0; i < BATCH * in; i++)
    Xf[i] = (float)X[i];
  for (size_t i = 0; i < BATCH * out; i++)
    cf[i] = (float)c[i];
  st = infb_mlp_forward_f32(mf, BATCH, Xf, Yf);
  infb_mlp_zero_grad_f32(mf);
  st |= infb_mlp_backward_f32(mf, BATCH, Xf, cf, dXf);
  infb_mlp_forward_f64(m, BATCH, X, Y);
  double fy = 0, fg = 0;
  for (size_t i = 0; i < BATCH * out; i++)
    fy = fmax(fy, fabs(Yf[i] - Y[i]) / (1 + fabs(Y[i])));
  const float *gf = infb_mlp_grads_f32(mf, NULL);
  for (size_t i = 0; i < np; i++)
    fg = fmax(fg, fabs(gf[i] - g1[i] / 2) / (1 + fabs(g1[i] / 2)));
  for (size_t i = 0; i < BATCH * in; i++)
    fg = fmax(fg, fabs(dXf[i] - dX1[i]) / (1 + fabs(dX1[i])));
  ok(st == 0 && fy <= F32_TOL && fg <= F32_TOL,
     "%zu hidden, %s: the f32 build's Y, dtheta, dX agree with f64 (worst %.2g, %.2g)", nl - 1,
     an, fy, fg);

  infb_mlp_free_f32(mf);
  infb_mlp_free_f64(m);
  free(X), free(c), free(Y), free(Yr), free(dX), free(g1), free(dX1);
}
#define GRAD_TESTS (NARCH * INFB_ACT_COUNT * GRAD_TESTS_PER)

#define LAYOUT_TESTS_PER 4
static void
test_layout(size_t ai)
{
  const size_t *sizes = arch_sizes[ai];
  size_t nl = arch_nlayers[ai];
  infb_mlp_f64 *m = infb_mlp_alloc_f64(sizes, nl, INFB_ACT_TANH, 5);
  size_t offW[MAXL], offb[MAXL], total, nt, np;
  ref_offsets(sizes, nl, offW, offb, &total);
  const struct infb_nn_tensor *lay = infb_mlp_layout_f64(m, &nt);
  infb_mlp_params_f64(m, &np);

  /* Closed form Σ_l sizes[l+1]·(sizes[l] + 1). */
  size_t want = 0;
  for (size_t l = 0; l < nl; l++)
    want += sizes[l + 1] * (sizes[l] + 1);
  ok(np == want && infb_mlp_nparams_f64(m) == want && nt == 2 * nl,
     "%zu layers: %zu parameters = sum sizes[l+1](sizes[l]+1), %zu layout entries", nl, np, nt);

  /* Every slab element covered exactly once. */
  int *cover = calloc(np, sizeof *cover);
  int inside = 1;
  for (size_t t = 0; t < nt; t++)
    for (size_t i = 0; i < lay[t].length; i++) {
      if (lay[t].offset + i < np)
        cover[lay[t].offset + i]++;
      else
        inside = 0;
    }
  int once = inside;
  for (size_t i = 0; i < np; i++)
    once &= cover[i] == 1;
  ok(once, "%zu layers: the layout covers the slab exactly once, no overlap", nl);
  free(cover);

  /* Names, shapes and offsets as documented. */
  int doc = 1;
  char name[32];
  for (size_t l = 0; l < nl; l++) {
    snprintf(name, sizeof name, "layer%zu.W", l);
    doc &= strcmp(lay[2 * l].name, name) == 0 && lay[2 * l].offset == offW[l] &&
           lay[2 * l].rows == sizes[l + 1] && lay[2 * l].cols == sizes[l] &&
           lay[2 * l].length == sizes[l + 1] * sizes[l];
    snprintf(name, sizeof name, "layer%zu.b", l);
    doc &= strcmp(lay[2 * l + 1].name, name) == 0 && lay[2 * l + 1].offset == offb[l] &&
           lay[2 * l + 1].rows == sizes[l + 1] && lay[2 * l + 1].cols == 1 &&
           lay[2 * l + 1].length == sizes[l + 1];
  }
  ok(doc, "%zu layers: entries are layer<l>.W (out x in) then layer<l>.b, in slab order", nl);

  ok(infb_mlp_in_size_f64(m) == sizes[0] && infb_mlp_out_size_f64(m) == sizes[nl] &&
         infb_mlp_nlayers_f64(m) == nl && infb_mlp_max_batch_f64(m) == 5,
     "%zu layers: in/out sizes, nlayers and max_batch as allocated", nl);
  infb_mlp_free_f64(m);
}
#define LAYOUT_TESTS (NARCH * LAYOUT_TESTS_PER)

/* ------------------------------------------------------------------ initialisation */

#define INIT_TESTS 7
static void
test_init(void)
{
  const size_t sizes[] = {100, 30, 4};
  infb_mlp_f64 *a = infb_mlp_alloc_f64(sizes, 2, INFB_ACT_ELU, 1);
  infb_mlp_f64 *b = infb_mlp_alloc_f64(sizes, 2, INFB_ACT_ELU, 1);
  infb_mlp_f32 *f = infb_mlp_alloc_f32(sizes, 2, INFB_ACT_ELU, 1);
  size_t np, nt;
  double *ta = infb_mlp_params_f64(a, &np), *tb = infb_mlp_params_f64(b, NULL);
  float *tf = infb_mlp_params_f32(f, NULL);
  const struct infb_nn_tensor *lay = infb_mlp_layout_f64(a, &nt);

  int allzero = 1;
  for (size_t i = 0; i < np; i++)
    allzero &= ta[i] == 0;
  ok(allzero, "parameters are zero after _alloc");

  gsl_rng *r1 = infb_rng_stream(11, "tests/nn/mlp/init", 0);
  gsl_rng *r2 = infb_rng_stream(11, "tests/nn/mlp/init", 0);
  gsl_rng *r3 = infb_rng_stream(11, "tests/nn/mlp/init", 0);
  infb_mlp_init_f64(a, r1);
  infb_mlp_init_f64(b, r2);
  infb_mlp_init_f32(f, r3);
  ok(memcmp(ta, tb, np * sizeof *ta) == 0, "the same seed gives the same parameters");
  int rounded = 1;
  for (size_t i = 0; i < np; i++)
    rounded &= tf[i] == (float)ta[i];
  ok(rounded, "the f32 network from the same seed holds the f64 values rounded to float");
  infb_mlp_init_f64(b, r2); /* the stream has moved on */
  ok(memcmp(ta, tb, np * sizeof *ta) != 0, "a different rng state gives different parameters");

  /* Within ±1/√fan_in, fan_in = sizes[l] for both W_l and b_l. */
  int within = 1, withinf = 1;
  for (size_t t = 0; t < nt; t++) {
    double s = 1 / sqrt((double)sizes[t / 2]);
    for (size_t i = 0; i < lay[t].length; i++) {
      within &= fabs(ta[lay[t].offset + i]) <= s;
      withinf &= fabs((double)tf[lay[t].offset + i]) <= s * (1 + FLT_EPSILON);
    }
  }
  ok(within && withinf, "every weight and bias lies within +-1/sqrt(fan_in) (f64 and f32)");

  /* U(−s, s) has mean 0 and variance s²/3; over layer0.W (3000 values) and layer1.W (120)
   * the sample mean and variance lie within 5 standard errors (sd of θ: s/√3; sd of θ²:
   * s²·√(1/5 − 1/9)). */
  int moments = 1;
  for (size_t t = 0; t < nt; t += 2) {
    double s = 1 / sqrt((double)sizes[t / 2]), n = (double)lay[t].length, m1 = 0, m2 = 0;
    for (size_t i = 0; i < lay[t].length; i++) {
      m1 += ta[lay[t].offset + i];
      m2 += ta[lay[t].offset + i] * ta[lay[t].offset + i];
    }
    m1 /= n;
    m2 /= n;
    double se1 = s / sqrt(3 * n), se2 = s * s * sqrt(1.0 / 5 - 1.0 / 9) / sqrt(n);
    if (fabs(m1) > 5 * se1 || fabs(m2 - s * s / 3) > 5 * se2) {
      diag("%s: mean %g (se %g), mean square %g vs %g (se %g)", lay[t].name, m1, se1, m2,
           s * s / 3, se2);
      moments = 0;
    }
  }
  ok(moments, "weights have the mean 0 and variance s^2/3 of U(-s, s) within 5 se");

  /* The biases too are drawn (not left at 0). */
  int bias = 1;
  for (size_t t = 1; t < nt; t += 2) {
    double bm = 0;
    for (size_t i = 0; i < lay[t].length; i++)
      bm = fmax(bm, fabs(ta[lay[t].offset + i]));
    bias &= bm > 0;
  }
  ok(bias, "biases are drawn from the same uniform, not left at 0");
  gsl_rng_free(r1), gsl_rng_free(r2), gsl_rng_free(r3);
  infb_mlp_free_f64(a), infb_mlp_free_f64(b), infb_mlp_free_f32(f);
}

/* ------------------------------------------------------------------ bind, errors */

#define BIND_TESTS 4
static void
test_bind(gsl_rng *r)
{
  const size_t sizes[] = {4, 7, 5, 3};
  infb_mlp_f64 *a = infb_mlp_alloc_f64(sizes, 3, INFB_ACT_SOFTPLUS, BATCH);
  infb_mlp_f64 *b = infb_mlp_alloc_f64(sizes, 3, INFB_ACT_SOFTPLUS, BATCH);
  infb_mlp_init_f64(a, r);
  size_t np;
  double *ta = infb_mlp_params_f64(a, &np), *own = infb_mlp_params_f64(b, NULL);
  /* An outer slab with the network's block in the middle. */
  double *slab = calloc(np + 20, sizeof *slab), *gslab = calloc(np + 20, sizeof *gslab);
  memcpy(slab + 10, ta, np * sizeof *slab);
  infb_mlp_bind_f64(b, slab + 10, gslab + 10);
  double X[BATCH * 4], c[BATCH * 3], Ya[BATCH * 3], Yb[BATCH * 3];
  for (size_t i = 0; i < BATCH * 4; i++)
    X[i] = gsl_rng_uniform(r);
  for (size_t i = 0; i < BATCH * 3; i++)
    c[i] = gsl_rng_uniform(r) - 0.5;
  infb_mlp_forward_f64(a, BATCH, X, Ya);
  infb_mlp_forward_f64(b, BATCH, X, Yb);
  ok(infb_mlp_params_f64(b, NULL) == slab + 10 && memcmp(Ya, Yb, sizeof Ya) == 0,
     "a bound network reads the caller's slab and computes the same Y");
  infb_mlp_zero_grad_f64(a);
  infb_mlp_backward_f64(a, BATCH, X, c, NULL);
  infb_mlp_backward_f64(b, BATCH, X, c, NULL);
  int outside = 1;
  for (size_t i = 0; i < 10; i++)
    outside &= gslab[i] == 0 && gslab[np + 10 + i] == 0;
  ok(memcmp(infb_mlp_grads_f64(a, NULL), gslab + 10, np * sizeof *gslab) == 0 && outside,
     "a bound network accumulates into the caller's gradient slab, only its own block");
  infb_mlp_bind_f64(b, NULL, NULL);
  ok(infb_mlp_params_f64(b, NULL) == own && infb_mlp_grads_f64(b, NULL) != gslab + 10,
     "bind(NULL, NULL) returns to the network's own slabs");
  is_int(GSL_EINVAL, infb_mlp_backward_f64(b, BATCH, X, c, NULL),
         "bind invalidates the saved forward: backward right after it is GSL_EINVAL");
  free(slab), free(gslab);
  infb_mlp_free_f64(a), infb_mlp_free_f64(b);
}

#define ERROR_TESTS 11
static void
test_errors(void)
{
  const size_t sizes[] = {2, 3, 1}, zero[] = {2, 0, 1};
  ok(infb_mlp_alloc_f64(sizes, 0, INFB_ACT_TANH, 1) == NULL, "alloc with 0 layers is NULL");
  ok(infb_mlp_alloc_f64(zero, 2, INFB_ACT_TANH, 1) == NULL, "alloc with a 0-wide layer is NULL");
  ok(infb_mlp_alloc_f32(sizes, 2, INFB_ACT_COUNT, 1) == NULL,
     "alloc with an invalid activation is NULL");
  ok(infb_mlp_alloc_f32(sizes, 2, INFB_ACT_TANH, 0) == NULL, "alloc with max_batch 0 is NULL");
  ok(infb_mlp_alloc_f64(NULL, 2, INFB_ACT_TANH, 1) == NULL, "alloc with sizes NULL is NULL");
  infb_mlp_f64 *m = infb_mlp_alloc_f64(sizes, 2, INFB_ACT_TANH, 2);
  double X[6] = {0}, Y[3], dY[3] = {1, 1, 1};
  is_int(GSL_EINVAL, infb_mlp_backward_f64(m, 1, X, dY, NULL),
         "backward before any forward is GSL_EINVAL");
  is_int(GSL_EBADLEN, infb_mlp_forward_f64(m, 3, X, Y),
         "forward with B > max_batch is GSL_EBADLEN");
  is_int(GSL_EBADLEN, infb_mlp_forward_f64(m, 0, X, Y), "forward with B = 0 is GSL_EBADLEN");
  infb_mlp_forward_f64(m, 2, X, Y);
  is_int(GSL_EINVAL, infb_mlp_backward_f64(m, 1, X, dY, NULL),
         "backward with another B than the forward's is GSL_EINVAL");
  is_int(GSL_EINVAL, infb_mlp_backward_input_f64(m, 2, dY, NULL),
         "backward_input with dX NULL is GSL_EINVAL");
  infb_mlp_free_f64(m);
  infb_mlp_free_f64(NULL);
  infb_mlp_free_f32(NULL);
  ok(1, "infb_mlp_free_f64(NULL) and infb_mlp_free_f32(NULL) are no-ops");
}

#define ZERO_TESTS 1
static void
test_zero_grad(gsl_rng *r)
{
  const size_t sizes[] = {3, 5, 2};
  infb_mlp_f32 *m = infb_mlp_alloc_f32(sizes, 2, INFB_ACT_RELU, 1);
  infb_mlp_init_f32(m, r);
  float X[3] = {1, -1, 0.5f}, Y[2], dY[2] = {1, 2};
  infb_mlp_forward_f32(m, 1, X, Y);
  infb_mlp_backward_f32(m, 1, X, dY, NULL);
  size_t n;
  float *g = infb_mlp_grads_f32(m, &n);
  int nonzero = 0;
  for (size_t i = 0; i < n; i++)
    nonzero |= g[i] != 0;
  infb_mlp_zero_grad_f32(m);
  int zero = 1;
  for (size_t i = 0; i < n; i++)
    zero &= g[i] == 0;
  ok(nonzero && zero, "zero_grad clears a nonzero gradient slab");
  infb_mlp_free_f32(m);
}

/* forward_nobias: the output without its bias (within rounding: the gemm may add the
 * bias it starts from in another order), on odd shapes; backward after it gives the
 * gradients backward after forward gives. */
#define NOBIAS_TESTS 2
static void
test_nobias(gsl_rng *r)
{
  const size_t sizes[] = {7, 5, 11};
  enum { NB = 3 };
  infb_mlp_f32 *m = infb_mlp_alloc_f32(sizes, 2, INFB_ACT_ELU, NB);
  infb_mlp_init_f32(m, r);
  float X[NB * 7], Y[NB * 11], Yn[NB * 11], dY[NB * 11];
  for (size_t i = 0; i < NB * 7; i++)
    X[i] = (float)gsl_ran_gaussian(r, 1.0);
  for (size_t i = 0; i < NB * 11; i++)
    dY[i] = (float)gsl_ran_gaussian(r, 1.0);
  size_t n;
  float *g = infb_mlp_grads_f32(m, &n);
  float *g1 = malloc(n * sizeof *g1);
  infb_mlp_forward_f32(m, NB, X, Y);
  infb_mlp_zero_grad_f32(m);
  infb_mlp_backward_f32(m, NB, X, dY, NULL);
  memcpy(g1, g, n * sizeof *g);
  int st = infb_mlp_forward_nobias_f32(m, NB, X, Yn);
  const float *b = infb_mlp_out_bias_f32(m);
  size_t nl = 0;
  const struct infb_nn_tensor *lay = infb_mlp_layout_f32(m, &nl);
  int same = st == 0 && b == infb_mlp_params_f32(m, NULL) + lay[nl - 1].offset;
  double worst = 0;
  for (size_t i = 0; i < NB * 11; i++) {
    same &= Yn[i] != Y[i];
    worst = fmax(worst, fabs((double)(Yn[i] + b[i % 11]) - Y[i]) / (1 + fabs((double)Y[i])));
  }
  same &= worst <= 4 * FLT_EPSILON;
  infb_mlp_zero_grad_f32(m);
  st = infb_mlp_backward_f32(m, NB, X, dY, NULL);
  int gsame = st == 0;
  for (size_t i = 0; i < n; i++)
    gsame &= g[i] == g1[i];
  ok(same, "forward_nobias + out_bias equals forward within 4 eps (3 rows, 7-5-11, elu; "
           "worst %.2g)", worst);
  ok(gsame, "backward after forward_nobias gives the gradients it gives after forward");
  free(g1);
  infb_mlp_free_f32(m);
}

/* mlp_transpose and forward_nobias_t: WT holds each W transposed at W's offset and the
 * biases as they are; the forward on WT gives forward_nobias's output within rounding (a
 * small odd network, and the q* decoder's shapes with gemm blocking on, where the
 * no-transpose gemms run in blocks); backward_input after it gives backward_input after
 * forward_nobias within rounding; a NULL WT is GSL_EINVAL. */
#define TRANSPOSE_TESTS 6
static void
test_transpose(gsl_rng *r)
{
  const size_t small[] = {7, 5, 11}, big[] = {50, 200, 200, 784};
  const size_t *shapes[] = {small, big}, nl[] = {2, 3}, rows[] = {3, 50};
  const char *name[] = {"7-5-11, 3 rows", "50-200-200-784, 50 rows, blocked"};
  int layout_ok = 1;
  for (int c = 0; c < 2; c++) {
    const size_t *sz = shapes[c], L = nl[c], R = rows[c];
    int threads = infb_blas_threads();
    if (c == 1) {
      infb_blas_set_threads(1);
      infb_blas_set_blocking(32, 128);
      layout_ok &= infb_blas_blocks(0, 0, R, 784, 200) && infb_blas_blocks(0, 0, R, 200, 784);
    }
    infb_mlp_f32 *m = infb_mlp_alloc_f32(sz, L, INFB_ACT_ELU, R);
    infb_mlp_init_f32(m, r);
    size_t n, in = sz[0], out = sz[L];
    const float *P = infb_mlp_params_f32(m, &n);
    float *WT = malloc(n * sizeof *WT), *X = malloc(R * in * sizeof *X);
    float *Y = malloc(R * out * sizeof *Y), *Yt = malloc(R * out * sizeof *Yt);
    float *dY = malloc(R * out * sizeof *dY), *dX = malloc(R * in * sizeof *dX);
    float *dXt = malloc(R * in * sizeof *dXt);
    for (size_t i = 0; i < R * in; i++)
      X[i] = (float)gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < R * out; i++)
      dY[i] = (float)gsl_ran_gaussian(r, 1.0);
    int st = infb_mlp_transpose_f32(m, WT);
    size_t nt = 0;
    const struct infb_nn_tensor *lay = infb_mlp_layout_f32(m, &nt);
    for (size_t l = 0; l < L; l++) {
      const struct infb_nn_tensor *tW = &lay[2 * l], *tb = &lay[2 * l + 1];
      for (size_t j = 0; j < sz[l + 1]; j++)
        for (size_t k = 0; k < sz[l]; k++)
          layout_ok &= WT[tW->offset + k * sz[l + 1] + j] == P[tW->offset + j * sz[l] + k];
      for (size_t j = 0; j < tb->length; j++)
        layout_ok &= WT[tb->offset + j] == P[tb->offset + j];
    }
    layout_ok &= st == 0;
    st = infb_mlp_forward_nobias_f32(m, R, X, Y);
    st |= infb_mlp_backward_input_f32(m, R, dY, dX);
    st |= infb_mlp_forward_nobias_t_f32(m, R, X, Yt, WT);
    st |= infb_mlp_backward_input_f32(m, R, dY, dXt);
    double worst = 0, worstd = 0, scale = 0, scaled = 0;
    for (size_t i = 0; i < R * out; i++) {
      worst = fmax(worst, fabs((double)Yt[i] - Y[i]));
      scale = fmax(scale, fabs((double)Y[i]));
    }
    for (size_t i = 0; i < R * in; i++) {
      worstd = fmax(worstd, fabs((double)dXt[i] - dX[i]));
      scaled = fmax(scaled, fabs((double)dX[i]));
    }
    /* Sums of up to 784 float products in another order (seen: 2.5 eps of the scale). */
    double tol = 32 * FLT_EPSILON;
    ok(st == 0 && worst <= tol * scale,
       "forward_nobias_t equals forward_nobias within rounding (%s; worst %.2g of %.2g)",
       name[c], worst, scale);
    ok(st == 0 && worstd <= tol * scaled,
       "backward_input after forward_nobias_t as after forward_nobias (%s; worst %.2g of %.2g)",
       name[c], worstd, scaled);
    infb_blas_set_blocking(0, 0);
    infb_blas_set_threads(threads);
    free(WT);
    free(X);
    free(Y);
    free(Yt);
    free(dY);
    free(dX);
    free(dXt);
    infb_mlp_free_f32(m);
  }
  ok(layout_ok, "mlp_transpose: every W transposed at its offset, the biases as they are "
                "(and the big case's gemms blocked)");
  infb_mlp_f32 *m = infb_mlp_alloc_f32(small, 2, INFB_ACT_ELU, 3);
  float X[21] = {0}, Y[33];
  ok(infb_mlp_transpose_f32(m, NULL) == GSL_EINVAL &&
         infb_mlp_forward_nobias_t_f32(m, 3, X, Y, NULL) == GSL_EINVAL,
     "mlp_transpose and forward_nobias_t refuse a NULL WT");
  infb_mlp_free_f32(m);
}

int
main(void)
{
  plan(ACT_TESTS + GRAD_TESTS + LAYOUT_TESTS + INIT_TESTS + BIND_TESTS + ERROR_TESTS +
       ZERO_TESTS + NOBIAS_TESTS + TRANSPOSE_TESTS);
  gsl_rng *r = infb_rng_stream(20240611, "tests/nn/mlp", 0);
  test_activations();
  for (size_t ai = 0; ai < NARCH; ai++)
    for (int a = 0; a < INFB_ACT_COUNT; a++)
      test_gradients(r, ai, (enum infb_act)a);
  for (size_t ai = 0; ai < NARCH; ai++)
    test_layout(ai);
  test_init();
  test_bind(r);
  test_errors();
  test_zero_grad(r);
  test_nobias(r);
  test_transpose(r);
  gsl_rng_free(r);
  return test_done();
}
