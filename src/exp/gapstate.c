/* The gap report's state as JSON (see gapstate.h). */
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/gapstate.h"
#include "core/error.h"

#include <math.h>
#include <string.h>

/* A number as JSON: a real, or "nan", "inf", "-inf". */
static json_t *
number(double v)
{
  if (isnan(v))
    return json_string("nan");
  if (isinf(v))
    return json_string(v > 0 ? "inf" : "-inf");
  return json_real(v);
}

/* n numbers as a JSON array; appended to obj under key.  Nonzero on ENOMEM. */
static int
put_numbers(json_t *obj, const char *key, const double *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, number(v[i]))) {
      json_decref(a);
      a = NULL;
    }
  return !a || json_object_set_new(obj, key, a);
}

static int
put_sizes(json_t *obj, const char *key, const size_t *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_integer((json_int_t)v[i]))) {
      json_decref(a);
      a = NULL;
    }
  return !a || json_object_set_new(obj, key, a);
}

static int
put_ints(json_t *obj, const char *key, const int *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_integer(v[i]))) {
      json_decref(a);
      a = NULL;
    }
  return !a || json_object_set_new(obj, key, a);
}

json_t *
infb_gapstate_json(const infb_gap_state *s)
{
  const size_t q = s->qstar_done;
  json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:[I, I]}", "n", (json_int_t)s->n, "K",
                        (json_int_t)s->K, "q_done", (json_int_t)s->q_done, "qstar_done",
                        (json_int_t)q, "iwae_done", (json_int_t)s->iwae_done[0],
                        (json_int_t)s->iwae_done[1]);
  int bad = !j;
  bad = bad || put_numbers(j, "q_elbo", s->q_elbo, s->q_done);
  bad = bad || put_numbers(j, "q_se", s->q_se, s->q_done);
  bad = bad || put_numbers(j, "qstar_elbo", s->qs_elbo, q);
  bad = bad || put_numbers(j, "qstar_se", s->qs_se, q);
  bad = bad || put_sizes(j, "qstar_steps", s->qs_steps, q);
  bad = bad || put_ints(j, "qstar_stop", s->qs_stop, q);
  bad = bad || put_numbers(j, "qstar_mu", s->qs_mu, q * s->K);
  bad = bad || put_numbers(j, "qstar_lv", s->qs_lv, q * s->K);
  bad = bad || put_numbers(j, "iwae_encoder", s->iw[0], s->iwae_done[0]);
  bad = bad || put_numbers(j, "iwae_encoder_se", s->iw_se[0], s->iwae_done[0]);
  bad = bad || put_numbers(j, "iwae_qstar", s->iw[1], s->iwae_done[1]);
  bad = bad || put_numbers(j, "iwae_qstar_se", s->iw_se[1], s->iwae_done[1]);
  bad = bad || put_numbers(j, "khat_encoder", s->khat[0], s->iwae_done[0]);
  bad = bad || put_ints(j, "khat_encoder_status", s->khat_status[0], s->iwae_done[0]);
  bad = bad || put_numbers(j, "khat_qstar", s->khat[1], s->iwae_done[1]);
  bad = bad || put_ints(j, "khat_qstar_status", s->khat_status[1], s->iwae_done[1]);
  if (!bad && s->legacy_max) {
    bad = put_numbers(j, "legacy_max", s->legacy_max, s->n) ||
          put_numbers(j, "legacy_max_se", s->legacy_max_se, s->n);
  }
  if (!bad && s->ais_n) {
    const size_t d = s->ais_done;
    json_t *a = json_pack("{s:I, s:I}", "n", (json_int_t)s->ais_n, "done", (json_int_t)d);
    bad = !a || put_numbers(a, "log_px", s->ais_lp, d) || put_numbers(a, "mc_se", s->ais_se, d) ||
          put_numbers(a, "ess", s->ais_ess, d) || put_numbers(a, "accept", s->ais_accept, d) ||
          put_numbers(a, "step", s->ais_step, d) || put_ints(a, "status", s->ais_status, d) ||
          put_ints(a, "low_ess", s->ais_low_ess, d);
    if (bad)
      json_decref(a);
    else
      bad = json_object_set_new(j, "ais", a) != 0;
  }
  if (bad) {
    json_decref(j);
    INFB_ERROR_NULL(GSL_ENOMEM, "out of memory");
  }
  return j;
}

/* A count of j's key, at most max: nonzero unless it is an integer in [0, max]. */
static int
get_count(const json_t *j, const char *key, size_t max, size_t *out)
{
  const json_t *v = json_object_get(j, key);
  if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
    return 1;
  *out = (size_t)json_integer_value(v);
  return 0;
}

/* n numbers of array key into v: nonzero unless it has exactly n, each a number or one
 * of the strings number() writes. */
static int
get_numbers(const json_t *j, const char *key, double *v, size_t n)
{
  const json_t *a = json_object_get(j, key);
  if (!json_is_array(a) || json_array_size(a) != n)
    return 1;
  for (size_t i = 0; i < n; i++) {
    const json_t *x = json_array_get(a, i);
    const char *str = json_string_value(x);
    if (json_is_number(x))
      v[i] = json_number_value(x);
    else if (str && strcmp(str, "nan") == 0)
      v[i] = NAN;
    else if (str && strcmp(str, "inf") == 0)
      v[i] = INFINITY;
    else if (str && strcmp(str, "-inf") == 0)
      v[i] = -INFINITY;
    else
      return 1;
  }
  return 0;
}

int
infb_gapstate_read(infb_gap_state *s, const json_t *j, const char *what)
{
  size_t n, K, q;
  const json_t *iw = json_object_get(j, "iwae_done");
  if (!json_is_object(j) || get_count(j, "n", SIZE_MAX, &n) ||
      get_count(j, "K", SIZE_MAX, &K))
    return INFB_ERROR(INFB_EDATA, "%s: not a gap report's state", what);
  if (n != s->n || K != s->K)
    return INFB_ERROR(INFB_EDATA,
                      "%s: a gap report's state of %zu points with K = %zu, the run's has %zu "
                      "with K = %zu",
                      what, n, K, s->n, s->K);
  int bad = get_count(j, "q_done", n, &s->q_done) || get_count(j, "qstar_done", n, &q) ||
            !json_is_array(iw) || json_array_size(iw) != 2;
  for (size_t p = 0; !bad && p < 2; p++) {
    const json_t *v = json_array_get(iw, p);
    bad = !json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > n;
    if (!bad)
      s->iwae_done[p] = (size_t)json_integer_value(v);
  }
  if (!bad)
    s->qstar_done = q;
  bad = bad || get_numbers(j, "q_elbo", s->q_elbo, s->q_done) ||
        get_numbers(j, "q_se", s->q_se, s->q_done) ||
        get_numbers(j, "qstar_elbo", s->qs_elbo, q) ||
        get_numbers(j, "qstar_se", s->qs_se, q) ||
        get_numbers(j, "qstar_mu", s->qs_mu, q * K) ||
        get_numbers(j, "qstar_lv", s->qs_lv, q * K) ||
        get_numbers(j, "iwae_encoder", s->iw[0], s->iwae_done[0]) ||
        get_numbers(j, "iwae_encoder_se", s->iw_se[0], s->iwae_done[0]) ||
        get_numbers(j, "iwae_qstar", s->iw[1], s->iwae_done[1]) ||
        get_numbers(j, "iwae_qstar_se", s->iw_se[1], s->iwae_done[1]);
  const json_t *steps = json_object_get(j, "qstar_steps"), *stop = json_object_get(j, "qstar_stop");
  bad = bad || json_array_size(steps) != q || json_array_size(stop) != q;
  for (size_t i = 0; !bad && i < q; i++) {
    const json_t *a = json_array_get(steps, i), *b = json_array_get(stop, i);
    bad = !json_is_integer(a) || json_integer_value(a) < 0 || !json_is_integer(b) ||
          (json_integer_value(b) != INFB_QSTAR_CONVERGED &&
           json_integer_value(b) != INFB_QSTAR_MAX_STEPS);
    if (!bad) {
      s->qs_steps[i] = (size_t)json_integer_value(a);
      s->qs_stop[i] = (int)json_integer_value(b);
    }
  }
  /* k̂ (optional: states written before it was kept give NAN, status -1). */
  for (int p = 0; !bad && p < 2; p++) {
    const char *kn = p ? "khat_qstar" : "khat_encoder";
    char sn[32];
    snprintf(sn, sizeof sn, "%s_status", kn);
    const json_t *st = json_object_get(j, sn);
    if (!json_object_get(j, kn)) {
      for (size_t i = 0; i < n; i++) {
        s->khat[p][i] = NAN;
        s->khat_status[p][i] = -1;
      }
      continue;
    }
    bad = get_numbers(j, kn, s->khat[p], s->iwae_done[p]) ||
          json_array_size(st) != s->iwae_done[p];
    for (size_t i = 0; !bad && i < s->iwae_done[p]; i++) {
      const json_t *x = json_array_get(st, i);
      bad = !json_is_integer(x) || json_integer_value(x) < -1 || json_integer_value(x) > 3;
      if (!bad)
        s->khat_status[p][i] = (int)json_integer_value(x);
    }
  }
  if (!bad && json_object_get(j, "legacy_max"))
    bad = infb_gap_state_alloc_legacy(s) != GSL_SUCCESS ||
          get_numbers(j, "legacy_max", s->legacy_max, n) ||
          get_numbers(j, "legacy_max_se", s->legacy_max_se, n);
  /* The phases run in order: a later one never has points before an earlier is done. */
  bad = bad || (q && s->q_done != n) || ((s->iwae_done[0] || s->iwae_done[1]) && !q) ||
        (s->iwae_done[1] && s->iwae_done[0] != n);
  if (bad)
    return INFB_ERROR(INFB_EDATA, "%s: the gap report's state is inconsistent (corrupt?)", what);
  return GSL_SUCCESS;
}

int
infb_gapstate_read_ais(infb_gap_state *s, const json_t *j, const char *what)
{
  const json_t *a = json_object_get(j, "ais");
  s->ais_done = 0;
  if (!a)
    return GSL_SUCCESS;
  size_t m, d;
  int bad = !json_is_object(a) || get_count(a, "n", SIZE_MAX, &m) || m != s->ais_n ||
            get_count(a, "done", m, &d);
  bad = bad || get_numbers(a, "log_px", s->ais_lp, d) || get_numbers(a, "mc_se", s->ais_se, d) ||
        get_numbers(a, "ess", s->ais_ess, d) || get_numbers(a, "accept", s->ais_accept, d) ||
        get_numbers(a, "step", s->ais_step, d);
  const json_t *st = json_object_get(a, "status"), *lo = json_object_get(a, "low_ess");
  bad = bad || json_array_size(st) != d || json_array_size(lo) != d;
  for (size_t i = 0; !bad && i < d; i++) {
    const json_t *x = json_array_get(st, i), *y = json_array_get(lo, i);
    bad = !json_is_integer(x) || !json_is_integer(y) || json_integer_value(x) < 0 ||
          json_integer_value(x) > 1 || json_integer_value(y) < 0 || json_integer_value(y) > 1;
    if (!bad) {
      s->ais_status[i] = (int)json_integer_value(x);
      s->ais_low_ess[i] = (int)json_integer_value(y);
    }
  }
  if (bad)
    return INFB_ERROR(INFB_EDATA, "%s: the AIS state is inconsistent (corrupt?)", what);
  s->ais_done = d;
  return GSL_SUCCESS;
}
