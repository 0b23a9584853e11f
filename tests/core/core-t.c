/* Tests of src/core: strict parsing, lists, rng streams, SHA-256, atomic files, errors. */
#include "config.h"
#include "tap/basic.h"
#include "core/atomicfile.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "core/strparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(void)
{
  plan(40);
  double d;
  long l;
  int b;
  const char *why = NULL;

  ok(infb_parse_double(" 1.5e-3 ", &d, &why) == 0 && d == 1.5e-3, "parse_double ' 1.5e-3 '");
  ok(infb_parse_double("-0", &d, &why) == 0 && d == 0.0, "parse_double '-0' is zero");
  ok(infb_parse_double("1e", &d, &why) != 0, "parse_double rejects '1e'");
  is_string("not a number", why, "reason for '1e'");
  ok(infb_parse_double("nan", &d, &why) != 0, "parse_double rejects 'nan'");
  ok(infb_parse_double("inf", &d, &why) != 0, "parse_double rejects 'inf'");
  ok(infb_parse_double("1e999", &d, &why) != 0, "parse_double rejects overflow 1e999");
  ok(infb_parse_double("", &d, &why) != 0, "parse_double rejects ''");
  is_string("empty value", why, "reason for ''");
  ok(infb_parse_double("0x10", &d, &why) != 0, "parse_double rejects hex '0x10'");
  ok(infb_parse_double("2 3", &d, &why) != 0, "parse_double rejects '2 3'");
  ok(infb_parse_long("42", &l, &why) == 0 && l == 42, "parse_long '42'");
  ok(infb_parse_long("4.2", &l, &why) != 0, "parse_long rejects '4.2'");
  ok(infb_parse_bool("Yes", &b, &why) == 0 && b == 1, "parse_bool 'Yes'");
  ok(infb_parse_bool("off", &b, &why) == 0 && b == 0, "parse_bool 'off'");
  ok(infb_parse_bool("maybe", &b, &why) != 0, "parse_bool rejects 'maybe'");

  size_t n = 0;
  char **list = infb_strlist_split(" mle, map:strong ,,bayes ", &n);
  ok(list && n == 3, "strlist_split drops empty items (n=%zu)", n);
  is_string("map:strong", list ? list[1] : NULL, "strlist_split trims items");
  ok(list && list[3] == NULL, "strlist_split NULL-terminates");
  infb_strlist_free(list);
  infb_strlist_free(NULL);
  ok(1, "strlist_free(NULL) is a no-op");

  /* Streams: deterministic, distinct by purpose and index. */
  uint64_t a = infb_rng_derive(1, "data/split", 0), a2 = infb_rng_derive(1, "data/split", 0);
  ok(a == a2, "rng_derive is deterministic");
  ok(a != infb_rng_derive(1, "data/split", 1), "rng_derive differs by index");
  ok(a != infb_rng_derive(1, "map/cv", 0), "rng_derive differs by purpose");
  ok(a != infb_rng_derive(2, "data/split", 0), "rng_derive differs by seed");
  gsl_rng *r1 = infb_rng_stream(7, "x", 3), *r2 = infb_rng_stream(7, "x", 3);
  ok(r1 && r2 && gsl_rng_get(r1) == gsl_rng_get(r2), "rng_stream reproduces its first draw");
  gsl_rng_free(r1);
  gsl_rng_free(r2);
  /* A re-seeded generator restarts the stream: after other draws, and of another stream,
   * it gives what a fresh generator of the stream gives, draw for draw. */
  gsl_rng *t = infb_rng_stream_type(gsl_rng_taus2, 7, "x", 3), *u = gsl_rng_alloc(gsl_rng_taus2);
  gsl_rng *m = infb_rng_stream(7, "x", 3);
  int same = t && u && m && strcmp(gsl_rng_name(t), "taus2") == 0;
  for (int i = 0; same && i < 50; i++)
    gsl_rng_get(u);
  if (same)
    infb_rng_reseed(u, 7, "x", 3);
  for (int i = 0; same && i < 1000; i++)
    same = gsl_rng_get(t) == gsl_rng_get(u);
  ok(same, "rng_reseed restarts stream (x, 3) of a taus2 as rng_stream_type makes it");
  gsl_rng *t2 = infb_rng_stream_type(gsl_rng_mt19937, 7, "x", 3);
  int mt_same = t2 && m;
  for (int i = 0; mt_same && i < 1000; i++)
    mt_same = gsl_rng_get(t2) == gsl_rng_get(m);
  ok(mt_same, "rng_stream is rng_stream_type with mt19937");
  if (u)
    infb_rng_reseed(u, 7, "x", 4);
  ok(u && t && gsl_rng_get(u) != gsl_rng_get(t), "rng_reseed to another index gives another stream");
  gsl_rng *smp = infb_rng_sampler(7, "x", 3);
  int smp_same = smp && t && strcmp(gsl_rng_name(smp), "taus2") == 0;
  infb_rng_reseed(t, 7, "x", 3);
  for (int i = 0; smp_same && i < 100; i++)
    smp_same = gsl_rng_get(smp) == gsl_rng_get(t);
  ok(smp_same, "rng_sampler is the taus2 stream rng_stream_type makes");
  gsl_rng_free(smp);
  gsl_rng_free(t);
  gsl_rng_free(t2);
  gsl_rng_free(u);
  gsl_rng_free(m);

  /* SHA-256 test vectors (FIPS 180-2, appendix B). */
  char hex[INFB_SHA256_HEX];
  infb_sha256_hex("abc", 3, hex);
  is_string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex, "sha256('abc')");
  infb_sha256_hex("", 0, hex);
  is_string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex, "sha256('')");

  /* Atomic files: nothing at the final path until commit; abort leaves nothing. */
  char path[64];
  snprintf(path, sizeof path, "core-t.%ld.out", (long)getpid());
  infb_afile *af = infb_afile_open(path);
  ok(af != NULL, "afile_open");
  fputs("hello\n", af->fp);
  ok(access(path, F_OK) != 0, "final path absent before commit");
  ok(infb_afile_commit(af) == 0, "afile_commit");
  ok(access(path, F_OK) == 0, "final path present after commit");
  remove(path);
  af = infb_afile_open(path);
  fputs("half", af->fp);
  infb_afile_abort(af);
  ok(access(path, F_OK) != 0, "abort leaves no final file");
  infb_afile_abort(NULL);
  ok(infb_afile_open("/nonexistent-dir/x") == NULL, "afile_open fails in a missing directory");
  ok(strstr(infb_error_message(), "/nonexistent-dir/x") != NULL, "the error names the path: %s",
     infb_error_message());

  /* Errors: the message is kept and the status returned. */
  int st = INFB_ERROR(INFB_EDATA, "bad row %d", 7);
  is_int(INFB_EDATA, st, "INFB_ERROR returns its status");
  is_string("bad row 7", infb_error_message(), "INFB_ERROR records the message");
  return test_done();
}
