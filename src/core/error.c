/* The one error path: a thread-local last message and GSL's handler (see error.h). */
#include "config.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_message[1024];
static _Thread_local int in_handler;

int
infb_error(int status, const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_message, sizeof last_message, fmt, ap);
  va_end(ap);
  /* gsl_error calls the installed handler; ours (below) must not overwrite the richer
   * message we have just recorded. */
  in_handler = 1;
  gsl_error(last_message, file, line, status);
  in_handler = 0;
  return status;
}

const char *
infb_error_message(void)
{
  return last_message;
}

void
infb_error_clear(void)
{
  last_message[0] = '\0';
}

void
infb_error_gsl_handler(const char *reason, const char *file, int line, int gsl_errno)
{
  (void)file;
  (void)line;
  if (in_handler)
    return;
  snprintf(last_message, sizeof last_message, "%s (%s)", reason, gsl_strerror(gsl_errno));
}

const char *
infb_strerror(int status)
{
  switch (status) {
  case INFB_ECONFIG:
    return "invalid configuration";
  case INFB_EDATA:
    return "invalid data";
  case INFB_ESEPARABLE:
    return "data are separable";
  case INFB_ESINGULAR:
    return "singular matrix";
  case INFB_EINTR:
    return "interrupted";
  default:
    return gsl_strerror(status);
  }
}

void *
infb_malloc(size_t n, size_t size)
{
  if (size != 0 && n > SIZE_MAX / size) {
    infb_error(GSL_ENOMEM, __FILE__, __LINE__, "allocation of %zu x %zu bytes overflows", n, size);
    return NULL;
  }
  size_t bytes = n * size;
  void *p = malloc(bytes > 0 ? bytes : 1);
  if (!p)
    infb_error(GSL_ENOMEM, __FILE__, __LINE__, "out of memory allocating %zu bytes", n * size);
  return p;
}

void *
infb_calloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    infb_error(GSL_ENOMEM, __FILE__, __LINE__, "out of memory allocating %zu x %zu bytes", n, size);
  return p;
}

char *
infb_strdup(const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = infb_malloc(n, 1);
  if (p)
    memcpy(p, s, n);
  return p;
}
