/* Status codes and the one error-reporting path of the library (GSL's convention).
 *
 * Functions return an int status: GSL_SUCCESS (0) or one of GSL's error codes, so GSL
 * statuses pass through unchanged.  Constructors return NULL.  A failing function raises
 * through INFB_ERROR, which records a readable message (retrievable with
 * infb_error_message) and calls gsl_error, i.e. the one installed GSL error handler.
 * The library never prints or exits: the CLI switches GSL's aborting handler off. */
#ifndef INFB_CORE_ERROR_H
#define INFB_CORE_ERROR_H

#include <stddef.h>
#include <gsl/gsl_errno.h>

/* infbench-specific statuses, above GSL's range (GSL uses 0..32). */
enum {
  INFB_ECONFIG = 1001,    /* invalid configuration */
  INFB_EDATA = 1002,      /* invalid or unreadable data */
  INFB_ESEPARABLE = 1003, /* logistic MLE does not exist: data separable */
  INFB_ESINGULAR = 1004,  /* singular design / matrix */
  INFB_EINTR = 1005       /* interrupted by a signal */
};

/* Record a printf-style message as the last error and call gsl_error with it and the
 * status.  Returns status, so `return infb_error(GSL_EDOM, __FILE__, __LINE__, "...")`
 * reads naturally; prefer the INFB_ERROR macro. */
int infb_error(int status, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define INFB_ERROR(status, ...) infb_error((status), __FILE__, __LINE__, __VA_ARGS__)
/* For functions returning a pointer: record the error and return NULL. */
#define INFB_ERROR_NULL(status, ...)                                                       \
  do {                                                                                     \
    infb_error((status), __FILE__, __LINE__, __VA_ARGS__);                                 \
    return NULL;                                                                           \
  } while (0)

/* The message of the last error raised (by INFB_ERROR, or by GSL through
 * infb_error_gsl_handler); "" when none.  Thread-local. */
const char *infb_error_message(void);
/* Forget the last error. */
void infb_error_clear(void);
/* A GSL error handler that records GSL's reason as the last error instead of aborting;
 * install it with gsl_set_error_handler(infb_error_gsl_handler). */
void infb_error_gsl_handler(const char *reason, const char *file, int line, int gsl_errno);
/* A short name for a status: GSL's gsl_strerror, or ours for INFB_E*. */
const char *infb_strerror(int status);

/* Checked allocation: NULL (with the last error set, GSL_ENOMEM) on failure or overflow
 * of n*size.  Free with free(). */
void *infb_malloc(size_t n, size_t size);
void *infb_calloc(size_t n, size_t size);
/* strdup that reports through the error path. */
char *infb_strdup(const char *s);

#endif
