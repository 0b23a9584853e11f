/* TAP output (see basic.h). */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int planned, run, failed;

void
plan(int n)
{
  gsl_set_error_handler(infb_error_gsl_handler);
  planned = n;
  printf("1..%d\n", n);
  fflush(stdout);
}

void
skip_all(const char *fmt, ...)
{
  va_list ap;
  printf("1..0 # SKIP ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  exit(0);
}

static int
report(int cond, const char *fmt, va_list ap)
{
  run++;
  if (!cond)
    failed++;
  printf("%s %d - ", cond ? "ok" : "not ok", run);
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  return cond;
}

int
ok(int cond, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  report(cond, fmt, ap);
  va_end(ap);
  return cond;
}

int
is_int(long long want, long long got, const char *fmt, ...)
{
  va_list ap;
  int cond = want == got;
  va_start(ap, fmt);
  report(cond, fmt, ap);
  va_end(ap);
  if (!cond)
    printf("#   wanted: %lld\n#      got: %lld\n", want, got);
  return cond;
}

int
is_string(const char *want, const char *got, const char *fmt, ...)
{
  va_list ap;
  int cond = want && got ? strcmp(want, got) == 0 : want == got;
  va_start(ap, fmt);
  report(cond, fmt, ap);
  va_end(ap);
  if (!cond)
    printf("#   wanted: %s\n#      got: %s\n", want ? want : "(null)", got ? got : "(null)");
  return cond;
}

int
is_double_rel(double want, double got, double tol, const char *fmt, ...)
{
  va_list ap;
  double scale = fabs(want) > 1e-300 ? fabs(want) : 1e-300;
  int cond = isfinite(got) && fabs(got - want) <= tol * scale;
  va_start(ap, fmt);
  report(cond, fmt, ap);
  va_end(ap);
  if (!cond)
    printf("#   wanted: %.17g\n#      got: %.17g (rel. error %.3g, tol %.3g)\n", want, got,
           fabs(got - want) / scale, tol);
  return cond;
}

int
is_double_abs(double want, double got, double tol, const char *fmt, ...)
{
  va_list ap;
  int cond = isfinite(got) && fabs(got - want) <= tol;
  va_start(ap, fmt);
  report(cond, fmt, ap);
  va_end(ap);
  if (!cond)
    printf("#   wanted: %.17g\n#      got: %.17g (abs. error %.3g, tol %.3g)\n", want, got,
           fabs(got - want), tol);
  return cond;
}

void
skip(const char *fmt, ...)
{
  va_list ap;
  run++;
  printf("ok %d # SKIP ", run);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
}

void
diag(const char *fmt, ...)
{
  va_list ap;
  printf("# ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

int
test_done(void)
{
  if (run != planned)
    printf("# planned %d tests but ran %d\n", planned, run);
  return failed == 0 && run == planned ? 0 : 1;
}

const char *
path_fixture(const char *name)
{
  static char buf[4096];
  const char *top = getenv("top_srcdir");
  snprintf(buf, sizeof buf, "%s/tests/fixtures/%s", top && *top ? top : TOP_SRCDIR, name);
  return buf;
}
