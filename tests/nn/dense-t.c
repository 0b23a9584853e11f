/* Tests for nn/dense: forward and backward of both builds (float and double) against a
 * plain triple-loop reference in long double, on odd shapes. */
#include <config.h>
#include "nn/dense.h"
#include "core/rng.h"
#include "tap/basic.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* All shapes (B, in, out) ∈ {1, 3, 7}³, plus one larger shape that takes the BLAS's
 * blocked kernels. */
static const size_t dims[] = {1, 3, 7};
#define NDIMS 3
#define BIG_B 67
#define BIG_IN 129
#define BIG_OUT 33
/* Assertions per (shape, precision) in check_shape, and extra ones in main. */
#define PER_SHAPE 9
#define NSHAPES (NDIMS * NDIMS * NDIMS + 1)
#define EXTRA 3

/* ---- dispatch: the data live in double arrays; the float build gets rounded copies. */

static float *
to_float(const double *x, size_t n)
{
  float *f = calloc(n ? n : 1, sizeof *f);
  for (size_t i = 0; i < n; i++)
    f[i] = (float)x[i];
  return f;
}

static void
from_float(double *x, const float *f, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = f[i];
}

static int
fwd(int bits, double *Y, const double *X, const double *W, const double *b, size_t B,
    size_t in, size_t out)
{
  if (bits == 64)
    return infb_dense_forward_f64(Y, X, W, b, B, in, out);
  float *Yf = to_float(Y, B * out), *Xf = to_float(X, B * in), *Wf = to_float(W, out * in);
  float *bf = b ? to_float(b, out) : NULL;
  int st = infb_dense_forward_f32(Yf, Xf, Wf, bf, B, in, out);
  from_float(Y, Yf, B * out);
  free(Yf), free(Xf), free(Wf), free(bf);
  return st;
}

/* dense_forward_t with WT = Wᵀ (in × out) built here from W. */
static int
fwd_t(int bits, double *Y, const double *X, const double *W, const double *b, size_t B,
      size_t in, size_t out)
{
  double *WT = malloc((in * out > 0 ? in * out : 1) * sizeof *WT);
  for (size_t j = 0; j < out; j++)
    for (size_t k = 0; k < in; k++)
      WT[k * out + j] = W[j * in + k];
  int st;
  if (bits == 64) {
    st = infb_dense_forward_t_f64(Y, X, WT, b, B, in, out);
  } else {
    float *Yf = to_float(Y, B * out), *Xf = to_float(X, B * in), *Wf = to_float(WT, out * in);
    float *bf = b ? to_float(b, out) : NULL;
    st = infb_dense_forward_t_f32(Yf, Xf, Wf, bf, B, in, out);
    from_float(Y, Yf, B * out);
    free(Yf), free(Xf), free(Wf), free(bf);
  }
  free(WT);
  return st;
}

static int
bwd(int bits, double *dX, double *dW, double *db, const double *dY, const double *X,
    const double *W, size_t B, size_t in, size_t out)
{
  if (bits == 64)
    return infb_dense_backward_f64(dX, dW, db, dY, X, W, B, in, out);
  float *dXf = dX ? to_float(dX, B * in) : NULL, *dWf = dW ? to_float(dW, out * in) : NULL;
  float *dbf = db ? to_float(db, out) : NULL;
  float *dYf = to_float(dY, B * out), *Xf = to_float(X, B * in), *Wf = to_float(W, out * in);
  int st = infb_dense_backward_f32(dXf, dWf, dbf, dYf, Xf, Wf, B, in, out);
  if (dX)
    from_float(dX, dXf, B * in);
  if (dW)
    from_float(dW, dWf, out * in);
  if (db)
    from_float(db, dbf, out);
  free(dXf), free(dWf), free(dbf), free(dYf), free(Xf), free(Wf);
  return st;
}

/* ---- the reference: triple loops, summed in long double.  Each element comes with the
 * rounding-error bound of a computed sum of products, |fl(s) − s| ≤ γ_n·Σ|terms| with
 * γ_n = n·u/(1 − n·u) ≤ (n + 2)·eps for n terms (Higham, Accuracy and Stability of
 * Numerical Algorithms, §3.1), eps the build's machine epsilon.  The factor (n + 2) over
 * n·eps/2 leaves room for the BLAS's summation order and FMA. */

/* Y_rj = b_j + Σ_k X_rk W_jk. */
static void
ref_forward(double *Y, double *bound, const double *X, const double *W, const double *b,
            size_t B, size_t in, size_t out, double eps)
{
  for (size_t r = 0; r < B; r++)
    for (size_t j = 0; j < out; j++) {
      long double s = b ? b[j] : 0.0, a = b ? fabs(b[j]) : 0.0;
      for (size_t k = 0; k < in; k++) {
        s += (long double)X[r * in + k] * W[j * in + k];
        a += fabsl((long double)X[r * in + k] * W[j * in + k]);
      }
      Y[r * out + j] = (double)s;
      bound[r * out + j] = (double)((in + 2) * eps * a);
    }
}

/* dX_rk = Σ_j dY_rj W_jk;  dW_jk = G_jk + c·Σ_r dY_rj X_rk;  db_j = g_j + c·Σ_r dY_rj. */
static void
ref_backward(double *dX, double *bX, double *dW, double *bW, double *db, double *bb,
             const double *G, const double *g, double c, const double *dY, const double *X,
             const double *W, size_t B, size_t in, size_t out, double eps)
{
  for (size_t r = 0; r < B; r++)
    for (size_t k = 0; k < in; k++) {
      long double s = 0, a = 0;
      for (size_t j = 0; j < out; j++) {
        s += (long double)dY[r * out + j] * W[j * in + k];
        a += fabsl((long double)dY[r * out + j] * W[j * in + k]);
      }
      dX[r * in + k] = (double)s;
      bX[r * in + k] = (double)((out + 2) * eps * a);
    }
  for (size_t j = 0; j < out; j++) {
    for (size_t k = 0; k < in; k++) {
      long double s = 0, a = 0;
      for (size_t r = 0; r < B; r++) {
        s += (long double)dY[r * out + j] * X[r * in + k];
        a += fabsl((long double)dY[r * out + j] * X[r * in + k]);
      }
      dW[j * in + k] = (double)(G[j * in + k] + c * s);
      bW[j * in + k] = (double)((B + 3) * eps * (fabs(G[j * in + k]) + c * a));
    }
    long double s = 0, a = 0;
    for (size_t r = 0; r < B; r++) {
      s += dY[r * out + j];
      a += fabs(dY[r * out + j]);
    }
    db[j] = (double)(g[j] + c * s);
    bb[j] = (double)((B + 3) * eps * (fabs(g[j]) + c * a));
  }
}

/* max_i |got_i − want_i| / bound_i (infinite when an element with bound 0 differs, or a
 * value is not finite). */
static double
worst(const double *got, const double *want, const double *bound, size_t n)
{
  double w = 0.0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs(got[i] - want[i]);
    if (!isfinite(got[i]) || (e > 0 && bound[i] == 0))
      return INFINITY;
    if (e > 0 && e / bound[i] > w)
      w = e / bound[i];
  }
  return w;
}

static double *
randn(gsl_rng *r, size_t n, int bits)
{
  double *x = malloc((n ? n : 1) * sizeof *x);
  for (size_t i = 0; i < n; i++) {
    x[i] = 2.0 * gsl_rng_uniform(r) - 1.0;
    if (bits == 32)
      x[i] = (float)x[i]; /* the float build sees exactly these values */
  }
  return x;
}

static double *
filled(size_t n, double v)
{
  double *x = malloc((n ? n : 1) * sizeof *x);
  for (size_t i = 0; i < n; i++)
    x[i] = v;
  return x;
}

/* PER_SHAPE assertions for one shape and precision. */
static void
check_shape(gsl_rng *r, int bits, size_t B, size_t in, size_t out)
{
  double eps = bits == 32 ? FLT_EPSILON : DBL_EPSILON;
  double *X = randn(r, B * in, bits), *W = randn(r, out * in, bits), *b = randn(r, out, bits);
  double *dY = randn(r, B * out, bits), *G = randn(r, out * in, bits), *g = randn(r, out, bits);
  double *Y = filled(B * out, 1e30), *Yr = filled(B * out, 0), *bY = filled(B * out, 0);
  double *dX = filled(B * in, 1e30), *dXr = filled(B * in, 0), *bX = filled(B * in, 0);
  double *dW = malloc(out * in * sizeof *dW), *dWr = filled(out * in, 0), *bW = filled(out * in, 0);
  double *db = malloc(out * sizeof *db), *dbr = filled(out, 0), *bb = filled(out, 0);

  /* Forward with bias (Y prefilled with 1e30: it must be overwritten). */
  int st = fwd(bits, Y, X, W, b, B, in, out);
  ref_forward(Yr, bY, X, W, b, B, in, out, eps);
  double w = worst(Y, Yr, bY, B * out);
  ok(st == 0 && w <= 1.0,
     "f%d B=%zu in=%zu out=%zu: forward Y = X W^T + b matches the triple loop (err/bound %.2g)",
     bits, B, in, out, w);

  /* Forward without bias. */
  st = fwd(bits, Y, X, W, NULL, B, in, out);
  ref_forward(Yr, bY, X, W, NULL, B, in, out, eps);
  w = worst(Y, Yr, bY, B * out);
  ok(st == 0 && w <= 1.0,
     "f%d B=%zu in=%zu out=%zu: forward without bias Y = X W^T (err/bound %.2g)", bits, B, in,
     out, w);

  /* Forward on the transposed weights, with bias (Y prefilled again). */
  for (size_t i = 0; i < B * out; i++)
    Y[i] = 1e30;
  st = fwd_t(bits, Y, X, W, b, B, in, out);
  ref_forward(Yr, bY, X, W, b, B, in, out, eps);
  w = worst(Y, Yr, bY, B * out);
  ok(st == 0 && w <= 1.0,
     "f%d B=%zu in=%zu out=%zu: forward_t Y = X WT + b matches the triple loop (err/bound %.2g)",
     bits, B, in, out, w);

  /* Backward from nonzero gradients G, g: dW = G + dY^T X, db = g + colsum dY. */
  memcpy(dW, G, out * in * sizeof *dW);
  memcpy(db, g, out * sizeof *db);
  st = bwd(bits, dX, dW, db, dY, X, W, B, in, out);
  ref_backward(dXr, bX, dWr, bW, dbr, bb, G, g, 1.0, dY, X, W, B, in, out, eps);
  w = worst(dX, dXr, bX, B * in);
  ok(st == 0 && w <= 1.0,
     "f%d B=%zu in=%zu out=%zu: backward dX = dY W overwrites (err/bound %.2g)", bits, B, in,
     out, w);
  w = worst(dW, dWr, bW, out * in);
  ok(st == 0 && w <= 1.0,
     "f%d B=%zu in=%zu out=%zu: backward dW = G + dY^T X accumulates (err/bound %.2g)", bits, B,
     in, out, w);
  w = worst(db, dbr, bb, out);
  ok(st == 0 && w <= 1.0,
     "f%d B=%zu in=%zu out=%zu: backward db = g + sum_rows dY accumulates (err/bound %.2g)",
     bits, B, in, out, w);

  /* Twice from zero (dX not wanted): the gradients double. */
  double *zW = filled(out * in, 0.0), *zb = filled(out, 0.0);
  memset(dW, 0, out * in * sizeof *dW);
  memset(db, 0, out * sizeof *db);
  st = bwd(bits, NULL, dW, db, dY, X, W, B, in, out);
  st |= bwd(bits, NULL, dW, db, dY, X, W, B, in, out);
  ref_backward(dXr, bX, dWr, bW, dbr, bb, zW, zb, 2.0, dY, X, W, B, in, out, eps);
  w = worst(dW, dWr, bW, out * in);
  ok(st == 0 && w <= 1.0,
     "f%d B=%zu in=%zu out=%zu: two backward calls give dW = 2 dY^T X (err/bound %.2g)", bits, B,
     in, out, w);
  w = worst(db, dbr, bb, out);
  ok(st == 0 && w <= 1.0,
     "f%d B=%zu in=%zu out=%zu: two backward calls give db = 2 sum_rows dY (err/bound %.2g)",
     bits, B, in, out, w);

  /* Only dX wanted (dW, db, X NULL). */
  double *dX2 = filled(B * in, -1e30);
  st = bwd(bits, dX2, NULL, NULL, dY, X, W, B, in, out);
  w = worst(dX2, dXr, bX, B * in);
  ok(st == 0 && w <= 1.0, "f%d B=%zu in=%zu out=%zu: backward with only dX wanted (err/bound %.2g)",
     bits, B, in, out, w);

  free(X), free(W), free(b), free(dY), free(G), free(g), free(Y), free(Yr), free(bY);
  free(dX), free(dXr), free(bX), free(dW), free(dWr), free(bW), free(db), free(dbr), free(bb);
  free(zW), free(zb), free(dX2);
}

int
main(void)
{
  plan(2 * NSHAPES * PER_SHAPE + EXTRA);
  gsl_rng *r = infb_rng_stream(20240611, "tests/nn/dense", 0);

  for (int bits = 32; bits <= 64; bits += 32) {
    for (size_t i = 0; i < NDIMS; i++)
      for (size_t j = 0; j < NDIMS; j++)
        for (size_t k = 0; k < NDIMS; k++)
          check_shape(r, bits, dims[i], dims[j], dims[k]);
    check_shape(r, bits, BIG_B, BIG_IN, BIG_OUT);
  }

  /* The two archives really are two precisions: on a sum of 129 products the float
   * build misses the long-double reference by more than the double-precision bound,
   * and the double build does not. */
  {
    size_t B = 1, in = BIG_IN, out = 1;
    double *X = randn(r, B * in, 32), *W = randn(r, out * in, 32);
    double Y32 = 0, Y64 = 0, Yr, bY;
    fwd(32, &Y32, X, W, NULL, B, in, out);
    fwd(64, &Y64, X, W, NULL, B, in, out);
    ref_forward(&Yr, &bY, X, W, NULL, B, in, out, DBL_EPSILON);
    ok(fabs(Y32 - Yr) > bY,
       "the f32 build rounds in float (|Y32 - ref| = %.3g > double bound %.3g)",
       fabs(Y32 - Yr), bY);
    ok(fabs(Y64 - Yr) <= bY, "the f64 build is within the double bound (|Y64 - ref| = %.3g)",
       fabs(Y64 - Yr));
    free(X), free(W);
  }

  /* A dimension beyond the BLAS's int range is refused, not passed on. */
  {
    double x = 0, y = 0;
    is_int(GSL_EINVAL, infb_dense_forward_f64(&y, &x, &x, NULL, (size_t)1 << 40, 1, 1),
           "forward refuses B = 2^40 (beyond int) with GSL_EINVAL");
  }

  gsl_rng_free(r);
  return test_done();
}
