/* Strict number and list parsing (see strparse.h). */
#include "config.h"
#include "core/strparse.h"
#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *
skip_blank(const char *s)
{
  while (*s && isspace((unsigned char)*s))
    s++;
  return s;
}

static int
fail(const char **why, const char *reason)
{
  if (why)
    *why = reason;
  return GSL_EINVAL;
}

int
infb_parse_double(const char *s, double *out, const char **why)
{
  s = skip_blank(s);
  if (!*s)
    return fail(why, "empty value");
  /* strtod also accepts "nan", "inf" and hexadecimal floats; we take none of them. */
  for (const char *p = s; *p; p++)
    if (isalpha((unsigned char)*p) && *p != 'e' && *p != 'E')
      return fail(why, "not a number");
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s)
    return fail(why, "not a number");
  end = (char *)skip_blank(end);
  if (*end)
    return fail(why, "not a number");
  if (errno == ERANGE && fabs(v) > 1.0)
    return fail(why, "out of range");
  if (!isfinite(v))
    return fail(why, "not finite");
  *out = v;
  return GSL_SUCCESS;
}

int
infb_parse_long(const char *s, long *out, const char **why)
{
  s = skip_blank(s);
  if (!*s)
    return fail(why, "empty value");
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s)
    return fail(why, "not an integer");
  end = (char *)skip_blank(end);
  if (*end)
    return fail(why, "not an integer");
  if (errno == ERANGE)
    return fail(why, "out of range");
  *out = v;
  return GSL_SUCCESS;
}

int
infb_parse_bool(const char *s, int *out, const char **why)
{
  char buf[16];
  infb_trim_copy(buf, sizeof buf, s);
  static const char *yes[] = {"yes", "true", "on", "1"};
  static const char *no[] = {"no", "false", "off", "0"};
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(buf, yes[i]) == 0) {
      *out = 1;
      return GSL_SUCCESS;
    }
    if (strcasecmp(buf, no[i]) == 0) {
      *out = 0;
      return GSL_SUCCESS;
    }
  }
  return fail(why, "not a boolean (yes or no)");
}

char *
infb_trim_copy(char *dst, size_t cap, const char *s)
{
  s = skip_blank(s);
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  if (cap == 0)
    return dst;
  if (n >= cap)
    n = cap - 1;
  memmove(dst, s, n); /* dst may alias s */
  dst[n] = '\0';
  return dst;
}

char **
infb_strlist_split(const char *s, size_t *n)
{
  size_t cap = 1;
  for (const char *p = s; *p; p++)
    cap += (*p == ',');
  char **list = infb_calloc(cap + 1, sizeof *list);
  if (!list)
    return NULL;
  size_t k = 0;
  const char *start = s;
  for (;;) {
    const char *comma = strchr(start, ',');
    size_t len = comma ? (size_t)(comma - start) : strlen(start);
    char *item = infb_malloc(len + 1, 1);
    if (!item) {
      infb_strlist_free(list);
      return NULL;
    }
    memcpy(item, start, len);
    item[len] = '\0';
    infb_trim_copy(item, len + 1, item);
    if (item[0])
      list[k++] = item;
    else
      free(item);
    if (!comma)
      break;
    start = comma + 1;
  }
  list[k] = NULL;
  if (n)
    *n = k;
  return list;
}

void
infb_strlist_free(char **list)
{
  if (!list)
    return;
  for (char **p = list; *p; p++)
    free(*p);
  free(list);
}
