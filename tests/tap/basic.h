/* A small TAP producer for the test programs (in the manner of c-tap-harness).
 * plan() also installs infbench's GSL error handler, so a library error never aborts a
 * test program: it becomes a status the test checks. */
#ifndef INFB_TAP_BASIC_H
#define INFB_TAP_BASIC_H

#include <stddef.h>

/* Print the plan "1..n". */
void plan(int n);
/* Print "1..0 # SKIP reason" and exit 0. */
void skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* One test point; returns cond.  The description says what is checked. */
int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int is_int(long long want, long long got, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int is_string(const char *want, const char *got, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* |got − want| ≤ tol·max(|want|, tiny) (relative; tiny = 1e-300). */
int is_double_rel(double want, double got, double tol, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* |got − want| ≤ tol. */
int is_double_abs(double want, double got, double tol, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Skip one test point with a reason. */
void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A diagnostic line "# ..." on stdout. */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit status for main: 0 when every planned test ran and passed, else 1. */
int test_done(void);

/* The directory of test fixtures (tests/fixtures under $top_srcdir, or the source tree
 * path compiled in); path_fixture returns a static buffer "DIR/name". */
const char *path_fixture(const char *name);

#endif
