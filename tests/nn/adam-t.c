/* Tests for nn/adam: steps against a hand computation of Kingma & Ba's Algorithm 1,
 * convergence on a convex quadratic, float and double trajectories, reset and errors. */
#include <config.h>
#include "nn/adam.h"
#include "tap/basic.h"

#include <gsl/gsl_errno.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The protocol's hyperparameters (PROTOCOL.md): with eps = 1e-4 and gradients of order
 * 1e-3 the placement of eps (outside the square root) matters. */
#define B1 0.9
#define B2 0.999
#define EPS 1e-4
#define LR 0.01
#define N 4
#define F32_STEP_TOL (8 * FLT_EPSILON)

static const double theta0[N] = {1.0, -2.0, 0.5, 0.0};
static const double grad1[N] = {0.3, -4.0, 1e-3, 0.0};
static const double grad2[N] = {-0.1, 2.0, 5e-3, 1.0};

/* Algorithm 1 written out for two steps in long double: after step t,
 * m_t = β1 m_{t−1} + (1 − β1) g_t, v_t = β2 v_{t−1} + (1 − β2) g_t²,
 * θ_t = θ_{t−1} − lr (m_t/(1 − β1ᵗ)) / (√(v_t/(1 − β2ᵗ)) + ε). */
static void
hand(double *th1, double *th2)
{
  for (size_t i = 0; i < N; i++) {
    long double m = (1 - (long double)B1) * grad1[i];
    long double v = (1 - (long double)B2) * grad1[i] * grad1[i];
    long double t1 = theta0[i] - LR * (m / (1 - (long double)B1)) /
                                     (sqrtl(v / (1 - (long double)B2)) + EPS);
    m = B1 * m + (1 - (long double)B1) * grad2[i];
    v = B2 * v + (1 - (long double)B2) * grad2[i] * grad2[i];
    long double c1 = 1 - (long double)B1 * B1, c2 = 1 - (long double)B2 * B2;
    long double t2 = t1 - LR * (m / c1) / (sqrtl(v / c2) + EPS);
    th1[i] = (double)t1;
    th2[i] = (double)t2;
  }
}

static double
worst_abs(const double *a, const double *b, size_t n)
{
  double w = 0;
  for (size_t i = 0; i < n; i++)
    w = fmax(w, fabs(a[i] - b[i]));
  return w;
}

/* The quadratic f(θ) = ½ Σ a_i (θ_i − c_i)², minimum 0 at θ = c. */
#define NQ 5
static const double qa[NQ] = {1.0, 4.0, 0.25, 2.0, 0.5};
static const double qc[NQ] = {1.0, -2.0, 0.5, 3.0, -1.0};

static double
quad64(const double *th, double *g)
{
  double f = 0;
  for (size_t i = 0; i < NQ; i++) {
    g[i] = qa[i] * (th[i] - qc[i]);
    f += 0.5 * qa[i] * (th[i] - qc[i]) * (th[i] - qc[i]);
  }
  return f;
}

static double
quad32(const float *th, float *g)
{
  double f = 0; /* losses are summed in double in both builds */
  for (size_t i = 0; i < NQ; i++) {
    g[i] = (float)qa[i] * (th[i] - (float)qc[i]);
    f += 0.5 * qa[i] * ((double)th[i] - qc[i]) * ((double)th[i] - qc[i]);
  }
  return f;
}

int
main(void)
{
  plan(18);
  double want1[N], want2[N];
  hand(want1, want2);

  /* ---- double build, two steps. */
  infb_adam_f64 *a = infb_adam_alloc_f64(N, B1, B2, EPS);
  double th[N];
  memcpy(th, theta0, sizeof th);
  int st = infb_adam_step_f64(a, th, grad1, LR);
  /* Step 1 in closed form: m̂ = g, v̂ = g², so θ1 = θ0 − lr·g/(|g| + ε); check the
   * long-double hand computation against it first. */
  double closed = 0;
  for (size_t i = 0; i < N; i++)
    closed = fmax(closed, fabs(want1[i] - (theta0[i] - LR * grad1[i] / (fabs(grad1[i]) + EPS))));
  ok(closed <= 1e-15, "hand computation of step 1 equals theta0 - lr g/(|g| + eps)");
  double w = worst_abs(th, want1, N);
  ok(st == 0 && w <= 4 * DBL_EPSILON, "f64 step 1 matches the hand computation (worst %.2g)", w);
  st = infb_adam_step_f64(a, th, grad2, LR);
  w = worst_abs(th, want2, N);
  ok(st == 0 && w <= 8 * DBL_EPSILON,
     "f64 step 2 (bias corrections 1 - beta^2) matches the hand computation (worst %.2g)", w);
  is_int(2, (long long)infb_adam_iter_f64(a), "the step counter is 2 after two steps");
  ok(infb_adam_size_f64(a) == N, "adam_size is the slab length");

  /* Reset, then step 1 again from theta0 gives exactly the first step. */
  infb_adam_reset_f64(a);
  is_int(0, (long long)infb_adam_iter_f64(a), "reset sets the step counter to 0");
  double th_again[N];
  memcpy(th_again, theta0, sizeof th_again);
  infb_adam_step_f64(a, th_again, grad1, LR);
  double first[N];
  memcpy(first, theta0, sizeof first);
  {
    infb_adam_f64 *fresh = infb_adam_alloc_f64(N, B1, B2, EPS);
    infb_adam_step_f64(fresh, first, grad1, LR);
    infb_adam_free_f64(fresh);
  }
  ok(memcmp(th_again, first, sizeof first) == 0,
     "after reset a step equals a fresh optimiser's first step (moments cleared)");

  /* A bad learning rate changes nothing. */
  memcpy(th, theta0, sizeof th);
  is_int(GSL_EINVAL, infb_adam_step_f64(a, th, grad1, -1.0), "a negative lr is GSL_EINVAL");
  is_int(GSL_EINVAL, infb_adam_step_f64(a, th, grad1, NAN), "a NaN lr is GSL_EINVAL");
  ok(infb_adam_iter_f64(a) == 1 && memcmp(th, theta0, sizeof th) == 0,
     "a refused step leaves the parameters and the counter alone");
  infb_adam_free_f64(a);

  /* ---- float build, two steps, against the same hand computation: θ (|θ| ≤ 2, one ulp
   * 2.4e-7) rounded once per step, plus an update of size lr computed in a few float
   * operations (and from float-rounded gradients). */
  infb_adam_f32 *af = infb_adam_alloc_f32(N, B1, B2, EPS);
  float thf[N], g1f[N], g2f[N];
  for (size_t i = 0; i < N; i++) {
    thf[i] = (float)theta0[i];
    g1f[i] = (float)grad1[i];
    g2f[i] = (float)grad2[i];
  }
  double got[N], got2[N];
  infb_adam_step_f32(af, thf, g1f, LR);
  for (size_t i = 0; i < N; i++)
    got[i] = thf[i];
  infb_adam_step_f32(af, thf, g2f, LR);
  for (size_t i = 0; i < N; i++)
    got2[i] = thf[i];
  double w1 = worst_abs(got, want1, N), w2 = worst_abs(got2, want2, N);
  ok(w1 <= F32_STEP_TOL && w2 <= F32_STEP_TOL,
     "f32 steps 1 and 2 match the hand computation within 8 float eps (%.2g, %.2g)", w1, w2);
  infb_adam_free_f32(af);

  /* ---- a convex quadratic: lr 0.1, 0.01, 0.001 for 1000 steps each (Adam with a fixed
   * lr hovers within about lr of the minimum, so the rate is lowered). */
  {
    infb_adam_f64 *q = infb_adam_alloc_f64(NQ, B1, B2, 1e-8);
    double x[NQ] = {0}, g[NQ];
    double f0 = quad64(x, g), f = f0;
    for (int phase = 0; phase < 3; phase++)
      for (int k = 0; k < 1000; k++) {
        f = quad64(x, g);
        infb_adam_step_f64(q, x, g, 0.1 * pow(0.1, phase));
      }
    f = quad64(x, g);
    double dist = 0;
    for (size_t i = 0; i < NQ; i++)
      dist = fmax(dist, fabs(x[i] - qc[i]));
    ok(dist < 1e-3 && f < 1e-6 * f0,
       "Adam minimises 0.5 sum a_i (theta_i - c_i)^2: max |theta - c| = %.2g, f = %.2g from %.3g",
       dist, f, f0);
    infb_adam_free_f64(q);
  }

  /* ---- threads: 1, 2 and 3 threads give bit-identical trajectories (elementwise update)
   * on a slab long enough to be split (1001 entries, an odd split); 0 and too many are
   * refused. */
  {
    enum { NT = 1001 };
    float *x[3], *g = malloc(NT * sizeof *g);
    infb_adam_f32 *ad[3];
    int set_ok = 1, same = 1;
    for (int t = 0; t < 3; t++) {
      x[t] = malloc(NT * sizeof *x[t]);
      ad[t] = infb_adam_alloc_f32(NT, B1, B2, 1e-8);
      set_ok &= infb_adam_set_threads_f32(ad[t], (size_t)t + 1) == GSL_SUCCESS;
      for (size_t i = 0; i < NT; i++)
        x[t][i] = (float)sin(0.37 * (double)i);
    }
    for (int k = 0; k < 20; k++)
      for (int t = 0; t < 3; t++) {
        for (size_t i = 0; i < NT; i++) /* ∇ of Σ ½ (i mod 7 + 1) x_i² */
          g[i] = (float)((double)(i % 7 + 1) * x[t][i]);
        infb_adam_step_f32(ad[t], x[t], g, 0.05);
      }
    for (size_t i = 0; i < NT; i++)
      same &= x[1][i] == x[0][i] && x[2][i] == x[0][i];
    set_ok &= infb_adam_set_threads_f32(ad[0], 0) == GSL_EINVAL &&
              infb_adam_set_threads_f32(ad[0], INFB_ADAM_MAX_THREADS + 1) == GSL_EINVAL;
    ok(set_ok && same && x[0][1] != (float)sin(0.37),
       "adam_set_threads: 2 and 3 threads give the 1-thread trajectory bit for bit over 20 "
       "steps; 0 and too many threads are refused");
    for (int t = 0; t < 3; t++) {
      infb_adam_free_f32(ad[t]);
      free(x[t]);
    }
    free(g);
  }

  /* ---- float and double trajectories from the same start, 300 steps at lr 0.01, far
   * enough from the minimum that the gradients keep their signs: each step moves by at
   * most lr, and the two builds differ by float rounding only. */
  {
    infb_adam_f64 *q64 = infb_adam_alloc_f64(NQ, B1, B2, 1e-8);
    infb_adam_f32 *q32 = infb_adam_alloc_f32(NQ, B1, B2, 1e-8);
    double x[NQ] = {0}, g[NQ];
    float xf[NQ] = {0}, gf[NQ];
    double dev = 0, moved = 0;
    for (int k = 0; k < 300; k++) {
      quad64(x, g);
      quad32(xf, gf);
      infb_adam_step_f64(q64, x, g, 0.01);
      infb_adam_step_f32(q32, xf, gf, 0.01);
      for (size_t i = 0; i < NQ; i++)
        dev = fmax(dev, fabs(x[i] - xf[i]));
    }
    for (size_t i = 0; i < NQ; i++)
      moved = fmax(moved, fabs(x[i]));
    ok(dev < 1e-5 && moved > 1.0,
       "f32 and f64 trajectories stay within 1e-5 over 300 steps (max gap %.2g, moved %.3g)",
       dev, moved);
    infb_adam_free_f64(q64);
    infb_adam_free_f32(q32);
  }

  /* ---- constructor errors and _free(NULL). */
  ok(infb_adam_alloc_f64(0, B1, B2, EPS) == NULL, "alloc of an empty slab is NULL");
  ok(infb_adam_alloc_f64(N, 1.0, B2, EPS) == NULL && infb_adam_alloc_f32(N, B1, -0.1, EPS) == NULL,
     "alloc with beta1 = 1 or beta2 < 0 is NULL");
  ok(infb_adam_alloc_f64(N, B1, B2, 0.0) == NULL && infb_adam_alloc_f32(N, B1, B2, NAN) == NULL,
     "alloc with eps = 0 or NaN is NULL");
  infb_adam_free_f64(NULL);
  infb_adam_free_f32(NULL);
  ok(1, "infb_adam_free_f64(NULL) and infb_adam_free_f32(NULL) are no-ops");
  return test_done();
}
