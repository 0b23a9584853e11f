/* Tests for the gap report's state as JSON (exp/gapstate.h): a state with every phase
 * partly done, non-finite numbers and awkward values reads back bit for bit through the
 * text the stage records hold; states of another size, with counts out of order or
 * arrays of the wrong length or type are refused, naming the record. */
#include <config.h>
#include "exp/gapstate.h"
#include "core/error.h"
#include "tap/basic.h"

#include <math.h>
#include <gsl/gsl_math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 6, K = 2 };

/* A state with L[q] and q* done and IWAE partly: values that do not print exactly in
 * fewer than 17 digits, a NaN, infinities, a subnormal. */
static void
fill(infb_gap_state *s)
{
  s->q_done = N;
  s->qstar_done = N;
  s->iwae_done[0] = N;
  s->iwae_done[1] = 3;
  for (size_t i = 0; i < N; i++) {
    s->q_elbo[i] = -500.0 - 1.0 / (3.0 + (double)i);
    s->q_se[i] = 0.1 * (double)(i + 1) / 7.0;
    s->qs_elbo[i] = -499.0 - 1.0 / (7.0 + (double)i);
    s->qs_se[i] = 1e-300 * (double)i;
    s->qs_steps[i] = 10 * i + 3;
    s->qs_stop[i] = (int)(i % 2);
    s->iw[0][i] = i == 1 ? NAN : -498.0 - M_PI * (double)i;
    s->iw_se[0][i] = i == 2 ? INFINITY : 4.9e-324;
    s->iw[1][i] = i == 0 ? -INFINITY : -497.5 + M_E * (double)i;
    s->iw_se[1][i] = 0.3;
  }
  for (size_t j = 0; j < N * K; j++) {
    s->qs_mu[j] = sin((double)j + 0.5);
    s->qs_lv[j] = -cos((double)j) / 3.0;
  }
}

/* Bitwise equality of n doubles. */
static int
same(const double *a, const double *b, size_t n)
{
  return memcmp(a, b, n * sizeof *a) == 0;
}

/* Parse text as JSON and read it into a fresh state of N points: the status. */
static int
read_text(const char *text, infb_gap_state **out)
{
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  infb_gap_state *s = infb_gap_state_alloc(N, K);
  infb_error_clear();
  int st = j && s ? infb_gapstate_read(s, j, "REC") : GSL_EFAILED;
  json_decref(j);
  if (out)
    *out = s;
  else
    infb_gap_state_free(s);
  return st;
}

/* The text of state s, with the key `key` of it replaced by the JSON `value` (NULL: as
 * it is). */
static char *
text_with(const infb_gap_state *s, const char *key, const char *value)
{
  json_t *j = infb_gapstate_json(s);
  if (key)
    json_object_set_new(j, key, json_loads(value, JSON_DECODE_ANY, NULL));
  char *t = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(j);
  return t;
}

static void
refused(const infb_gap_state *s, const char *key, const char *value, const char *what)
{
  char *t = text_with(s, key, value);
  int st = read_text(t, NULL);
  ok(st == INFB_EDATA && strncmp(infb_error_message(), "REC: ", 5) == 0,
     "%s is refused (%s)", what, infb_error_message());
  free(t);
}

int
main(void)
{
  plan(14);
  infb_gap_state *s = infb_gap_state_alloc(N, K);
  fill(s);
  char *t = text_with(s, NULL, NULL);
  infb_gap_state *r = NULL;
  is_int(GSL_SUCCESS, read_text(t, &r), "the state's JSON reads back");
  ok(r->q_done == N && r->qstar_done == N && r->iwae_done[0] == N && r->iwae_done[1] == 3,
     "the phases' counts read back");
  ok(same(s->q_elbo, r->q_elbo, N) && same(s->q_se, r->q_se, N) &&
         same(s->qs_elbo, r->qs_elbo, N) && same(s->qs_se, r->qs_se, N) &&
         same(s->qs_mu, r->qs_mu, N * K) && same(s->qs_lv, r->qs_lv, N * K) &&
         memcmp(s->qs_steps, r->qs_steps, N * sizeof *s->qs_steps) == 0 &&
         memcmp(s->qs_stop, r->qs_stop, N * sizeof *s->qs_stop) == 0,
     "L[q] and q* read back bit for bit (subnormals, 17 digits)");
  ok(same(s->iw[0], r->iw[0], N - 1) && isnan(r->iw[0][1]) && isinf(r->iw_se[0][2]) &&
         same(s->iw_se[0], r->iw_se[0], N) && r->iw[1][0] == -INFINITY &&
         same(s->iw[1], r->iw[1], 3) && same(s->iw_se[1], r->iw_se[1], 3),
     "IWAE reads back, NaN and infinities included, only its done points");
  ok(strstr(t, "\"nan\"") && strstr(t, "\"iwae_qstar\":[\"-inf\",") && strstr(t, "\"inf\""),
     "non-finite numbers are written as strings");
  free(t);
  infb_gap_state_free(r);

  infb_gap_state *big = infb_gap_state_alloc(N + 1, K);
  t = text_with(big, NULL, NULL);
  ok(read_text(t, NULL) == INFB_EDATA && strstr(infb_error_message(), "7 points"),
     "a state of another size is refused (%s)", infb_error_message());
  free(t);
  infb_gap_state_free(big);
  refused(s, "qstar_done", "3", "q* partly done");
  refused(s, "q_done", "7", "more points done than the report has");
  refused(s, "q_elbo", "[1, 2]", "an array shorter than its count");
  refused(s, "qstar_mu", "[\"x\", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]", "a string other than nan/inf");
  refused(s, "qstar_stop", "[0, 1, 2, 0, 0, 0]", "an unknown q* stop code");
  refused(s, "iwae_done", "[2, 3]", "IWAE with q*'s proposal before the encoder's is done");
  s->q_done = 3;
  refused(s, NULL, NULL, "q* done before L[q]");
  s->qstar_done = 0;
  s->iwae_done[0] = s->iwae_done[1] = 0;
  t = text_with(s, NULL, NULL);
  is_int(GSL_SUCCESS, read_text(t, NULL), "a state with L[q] half done reads");
  free(t);
  infb_gap_state_free(s);
  return test_done();
}
