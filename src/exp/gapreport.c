/* A gap report's ln p(x) methods in the outputs (see gapreport.h). */
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/gapreport.h"
#include "core/error.h"
#include "exp/results.h"
#include "infer/psis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A summary as JSON, shifted (null when empty). */
static json_t *
stat_obj(const infb_stat *s, double shift)
{
  if (s->n == 0 || !isfinite(s->mean))
    return json_null();
  json_t *o = json_pack("{s:o, s:o, s:I}", "mean", infb_json_number(s->mean + shift), "se",
                        infb_json_number(s->se), "n", (json_int_t)s->n);
  if (o && isfinite(s->mc_se))
    json_object_set_new(o, "mc_se", infb_json_number(s->mc_se));
  return o;
}

/* The summary of a_i − b_i over the first n points where both are finite, each
 * difference's Monte-Carlo error the two errors combined (independent draws; NAN counts
 * as 0).  GSL_ENOMEM. */
static int
paired_stat(size_t n, const double *a, const double *ae, const double *b, const double *be,
            infb_stat *out)
{
  double *d = infb_malloc(n ? n : 1, sizeof *d), *e = infb_malloc(n ? n : 1, sizeof *e);
  int st = d && e ? GSL_SUCCESS : GSL_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; !st && i < n; i++)
    if (isfinite(a[i]) && isfinite(b[i])) {
      d[k] = a[i] - b[i];
      e[k++] = hypot(isfinite(ae[i]) ? ae[i] : 0.0, isfinite(be[i]) ? be[i] : 0.0);
    }
  if (!st)
    infb_stat_of(d, e, k, out);
  free(d);
  free(e);
  return st;
}

/* The paired difference m − chosen over m's points where both are finite. */
static json_t *
paired(const infb_gap_report *r, const infb_logpx_method *m)
{
  const infb_logpx_method *c = &r->methods[r->chosen];
  infb_stat s;
  json_t *o = NULL;
  if (!paired_stat(m->n, m->value, m->mc_se, c->value, c->mc_se, &s)) {
    o = stat_obj(&s, 0.0);
    if (o && json_is_object(o))
      json_object_set_new(o, "minus", json_string(c->name));
  }
  return o ? o : json_null();
}

json_t *
infb_gapreport_families_json(const infb_gap_report *r, double shift)
{
  json_t *all = json_object();
  const infb_logpx_method *c = r->nmethods ? &r->methods[r->chosen] : NULL;
  int bad = !all;
  for (size_t j = 0; !bad && j < r->nfamilies; j++) {
    const infb_qstar_family *f = &r->families[j];
    json_t *o = stat_obj(&f->stat, shift);
    if (!o) {
      bad = 1;
      break;
    }
    if (json_is_object(o)) {
      if (f->note)
        json_object_set_new(o, "note", json_string(f->note));
      /* ln p̂(x) − L[q*], paired per point. */
      infb_stat g = {NAN, NAN, 0, NAN};
      if (c && (bad = paired_stat(f->n < c->n ? f->n : c->n, c->value, c->mc_se, f->value,
                                  f->mc_se, &g))) {
        json_decref(o);
        break;
      }
      if (c && c->kind == INFB_LOGPX_EXACT && !isfinite(f->stat.mc_se))
        g.mc_se = NAN; /* both exact */
      json_object_set_new(o, "approximation_gap", stat_obj(&g, 0.0));
    }
    bad = json_object_set_new(all, f->name, o) != 0;
  }
  if (bad) {
    json_decref(all);
    return NULL;
  }
  return all;
}

json_t *
infb_gapreport_estimates_json(const infb_gap_report *r, double shift)
{
  json_t *all = json_object();
  for (size_t j = 0; all && j < r->nmethods; j++) {
    const infb_logpx_method *m = &r->methods[j];
    json_t *o = stat_obj(&m->stat, shift);
    if (!json_is_object(o)) {
      json_decref(o);
      o = json_pack("{s:n}", "mean");
    }
    if (!o) {
      json_decref(all);
      return NULL;
    }
    json_object_set_new(o, "kind", json_string(infb_logpx_kind_name(m->kind)));
    json_object_set_new(o, "points_of", json_integer((json_int_t)m->n));
    json_object_set_new(o, "chosen", json_boolean(j == r->chosen));
    if (m->note)
      json_object_set_new(o, "note", json_string(m->note));
    if (m->n < r->n && j != r->chosen)
      json_object_set_new(o, "paired", paired(r, m));
    json_object_set_new(all, m->name, o);
  }
  return all;
}

/* m's diagnostic called name, or NULL. */
static const double *
extra(const infb_logpx_method *m, const char *name)
{
  for (size_t e = 0; e < m->nextra; e++)
    if (strcmp(m->extra_name[e], name) == 0)
      return m->extra[e];
  return NULL;
}

json_t *
infb_gapreport_khat_json(const infb_gap_report *r, size_t samples, double shift)
{
  json_t *all = json_object();
  const double thr = infb_psis_threshold(samples);
  const infb_logpx_method *c = &r->methods[r->chosen];
  double *v = infb_malloc(r->n ? r->n : 1, sizeof *v), *e = infb_malloc(r->n ? r->n : 1, sizeof *e);
  if (!all || !v || !e) {
    json_decref(all);
    free(v);
    free(e);
    return NULL;
  }
  for (size_t j = 0; j < r->nmethods; j++) {
    const infb_logpx_method *m = &r->methods[j];
    const double *k = extra(m, "khat"), *ks = extra(m, "khat_status");
    if (!k || !ks)
      continue;
    size_t counts[5] = {0}, fitted = 0, above = 0, nb = 0;
    double sum = 0.0;
    for (size_t i = 0; i < m->n; i++) {
      int s = (int)ks[i];
      counts[s >= 0 && s <= 3 ? s : 4]++;
      if (s == INFB_PSIS_OK && isfinite(k[i])) {
        fitted++;
        sum += k[i];
        above += k[i] > thr;
        if (k[i] <= thr && i < c->n && isfinite(c->value[i])) {
          v[nb] = c->value[i];
          e[nb++] = c->mc_se[i];
        }
      }
    }
    infb_stat sb;
    infb_stat_of(v, c->kind == INFB_LOGPX_EXACT ? NULL : e, nb, &sb);
    json_t *sub = stat_obj(&sb, shift);
    if (json_is_object(sub))
      json_object_set_new(sub, "method", json_string(c->name));
    json_t *o = json_pack(
        "{s:o, s:I, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o}", "threshold",
        infb_json_number(thr), "n_fitted", (json_int_t)fitted, "mean",
        infb_json_number(fitted ? sum / (double)fitted : NAN), "above",
        infb_json_number(fitted ? (double)above / (double)fitted : NAN), "statuses",
        infb_psis_status_name(INFB_PSIS_OK), (json_int_t)counts[0],
        infb_psis_status_name(INFB_PSIS_FEW), (json_int_t)counts[1],
        infb_psis_status_name(INFB_PSIS_FLAT), (json_int_t)counts[2],
        infb_psis_status_name(INFB_PSIS_NONFINITE), (json_int_t)counts[3], "not-recorded",
        (json_int_t)counts[4], "subset_below", sub ? sub : json_null());
    if (!o || json_object_set_new(all, m->name, o)) {
      json_decref(all);
      all = NULL;
      break;
    }
  }
  free(v);
  free(e);
  return all;
}

int
infb_gapreport_columns(const infb_gap_report *r, size_t *ncols, const char ***names, char **pool)
{
  size_t n = 0, bytes = 0;
  for (size_t j = 0; j < r->nmethods; j++) {
    const infb_logpx_method *m = &r->methods[j];
    n += 2 + m->nextra;
    bytes += 2 * (strlen(m->name) + 20);
    for (size_t e = 0; e < m->nextra; e++)
      bytes += strlen(m->name) + strlen(m->extra_name[e]) + 2;
  }
  *ncols = n;
  *names = infb_malloc(n ? n : 1, sizeof **names);
  *pool = infb_malloc(bytes ? bytes : 1, 1);
  if (!*names || !*pool) {
    free(*names);
    free(*pool);
    *names = NULL;
    *pool = NULL;
    return GSL_ENOMEM;
  }
  char *p = *pool;
  size_t k = 0;
  for (size_t j = 0; j < r->nmethods; j++) {
    const infb_logpx_method *m = &r->methods[j];
    (*names)[k++] = p;
    p += sprintf(p, "log_px_%s", m->name) + 1;
    (*names)[k++] = p;
    p += sprintf(p, "log_px_%s_mc_se", m->name) + 1;
    for (size_t e = 0; e < m->nextra; e++) {
      (*names)[k++] = p;
      p += sprintf(p, "%s_%s", m->name, m->extra_name[e]) + 1;
    }
  }
  for (char *q = *pool; q < p; q++) /* "iwae-qstar" → "iwae_qstar": gnuplot-friendly */
    if (*q == '-')
      *q = '_';
  return GSL_SUCCESS;
}

void
infb_gapreport_row(const infb_gap_report *r, size_t i, double shift, double *v)
{
  size_t k = 0;
  for (size_t j = 0; j < r->nmethods; j++) {
    const infb_logpx_method *m = &r->methods[j];
    int in = i < m->n;
    v[k++] = in ? m->value[i] + shift : NAN;
    v[k++] = in ? m->mc_se[i] : NAN;
    for (size_t e = 0; e < m->nextra; e++)
      v[k++] = in ? m->extra[e][i] : NAN;
  }
}
