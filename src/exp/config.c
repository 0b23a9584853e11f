/* Experiment configuration (config.h): INI files read with inih and --set overrides,
 * validated against the key table (keys.h), resolved, printed canonically and hashed;
 * the format is documented in infbench.ini(5).
 *
 * inih's handler does not receive line numbers in the Debian build (INI_HANDLER_LINENO
 * is 0), so the file is fed to ini_parse_stream one line per reader call: the reader
 * counts lines (inih calls the handler for a line before reading the next one), checks
 * section headers and line shapes itself (so every error carries its own line, even a
 * key-less unknown section), strips comments and leading blanks (which also keeps inih's
 * multi-line continuation from ever applying), and hands inih the cleaned line. */
#include "config.h"
#include "exp/config.h"
#include "exp/keys.h"
#include "core/error.h"
#include "core/strparse.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest line the reader takes (inih's buffer holds the line, its newline and a NUL);
 * "line too long" beyond it.  The canonical text's lines must fit too. */
#define LINE_MAX_CHARS (INI_MAX_LINE - 2)

typedef struct entry {
  char *section; /* as written; may be a variant "map:strong" */
  char *key;
  char *value;  /* trimmed text, validated */
  int line;     /* line in the file; 0 from --set or resolve */
  char *origin; /* the --set assignment; NULL from the file or resolve */
} entry;

typedef struct section_rec {
  char *name;   /* as written, validated */
  int line;     /* first header line in the file; 0 from --set */
  char *origin; /* the first --set that named it; NULL from the file */
} section_rec;

struct infb_config {
  char *file;    /* path given to infb_config_read; "" before */
  int have_file; /* infb_config_read was called */
  entry *e;      /* the values set, in order */
  size_t ne, cap_e;
  section_rec *s; /* sections named in the file or by --set */
  size_t ns, cap_s;
  char **estimators; /* NULL-terminated copy of [estimators] run, after resolve */
  int recorded;      /* a run's recorded config.ini (infb_config_set_recorded) */
};

/* ------------------------------------------------------------------ small helpers */

static void say(char *msg, size_t cap, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
say(char *msg, size_t cap, const char *fmt, ...)
{
  if (!msg || cap == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, cap, fmt, ap);
  va_end(ap);
}

static int
is_blank(int ch)
{
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* A growable string for the canonical text. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int fail;
} sbuf;

static void
sb_add(sbuf *b, const char *s, size_t n)
{
  if (b->fail)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (b->len + n + 1 > cap)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->fail = 1;
      INFB_ERROR(GSL_ENOMEM, "out of memory for the canonical configuration");
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void
sb_puts(sbuf *b, const char *s)
{
  sb_add(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(sbuf *b, const char *fmt, ...)
{
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0)
    sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A double as the canonical form prints it: the shortest %.Ng (N = 1..17) that reads back
 * to the same double — unique, and "0.8" rather than "0.80000000000000004" — with −0
 * printed as 0. */
static void
fmt_double(char *buf, size_t cap, double v)
{
  if (v == 0.0)
    v = 0.0;
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      return;
  }
}

/* ------------------------------------------------------------------ validation */

/* Nonzero when `word` is one of the '|'-separated `choices`. */
static int
choice_match(const char *choices, const char *word)
{
  size_t n = strlen(word);
  const char *p = choices;
  while (p && *p) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, word, n) == 0)
      return 1;
    p = bar ? bar + 1 : NULL;
  }
  return 0;
}

/* "a, b, c" from "a|b|c". */
static void
choice_list(const char *choices, char *buf, size_t cap)
{
  size_t k = 0;
  for (const char *p = choices; *p && k + 3 < cap; p++) {
    if (*p == '|') {
      buf[k++] = ',';
      buf[k++] = ' ';
    } else
      buf[k++] = *p;
  }
  buf[k] = '\0';
}

static int
in_range(const infb_key *k, double v)
{
  if (k->min_open ? !(v > k->min) : !(v >= k->min))
    return 0;
  return v <= k->max;
}

/* The range as the messages state it: "must be > 0", "must be >= 1",
 * "must be <= 5", "must be in [0, 0.9]" or "must be in (0, 1]". */
static void
range_text(const infb_key *k, char *buf, size_t cap)
{
  int lo = isfinite(k->min), hi = isfinite(k->max);
  if (lo && hi)
    snprintf(buf, cap, "must be in %c%.15g, %.15g]", k->min_open ? '(' : '[', k->min, k->max);
  else if (lo)
    snprintf(buf, cap, "must be %s %.15g", k->min_open ? ">" : ">=", k->min);
  else if (hi)
    snprintf(buf, cap, "must be <= %.15g", k->max);
  else
    snprintf(buf, cap, "must be finite");
}

#define SWEEP_FORM "a value or a sweep LO..HI/N"

/* Split a sweep "LO..HI/N".  Returns 1 and fills lo/hi/n (and the endpoint texts, trimmed)
 * when the text has that shape with numbers in it, 0 when it is not a sweep (no ".."),
 * -1 when it has ".." but is malformed. */
static int
parse_sweep(const char *v, double *lo, double *hi, long *n, char *lo_txt, char *hi_txt,
            size_t cap)
{
  const char *dots = strstr(v, "..");
  if (!dots)
    return 0;
  const char *slash = strchr(dots + 2, '/');
  if (!slash)
    return -1;
  size_t llen = (size_t)(dots - v), hlen = (size_t)(slash - dots - 2);
  if (llen >= cap || hlen >= cap)
    return -1;
  memcpy(lo_txt, v, llen);
  lo_txt[llen] = '\0';
  memcpy(hi_txt, dots + 2, hlen);
  hi_txt[hlen] = '\0';
  infb_trim_copy(lo_txt, cap, lo_txt);
  infb_trim_copy(hi_txt, cap, hi_txt);
  if (infb_parse_double(lo_txt, lo, NULL) || infb_parse_double(hi_txt, hi, NULL) ||
      infb_parse_long(slash + 1, n, NULL))
    return -1;
  return 1;
}

static int
valid_variant_name(const char *s)
{
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '-'))
      return 0;
  return 1;
}

/* A section name as written ("map", "map:strong"): 0, or nonzero with msg set. */
static int
check_section(const char *sec, char *msg, size_t cap)
{
  const char *colon = strchr(sec, ':');
  if (!infb_key_section_known(sec)) {
    say(msg, cap, "unknown section [%s]", sec);
    return 1;
  }
  if (strlen(sec) + 2 > LINE_MAX_CHARS) { /* (a file's line is shorter) */
    say(msg, cap, "section name '%.40s...' is too long to be recorded (at most %d characters)",
        sec, LINE_MAX_CHARS - 2);
    return 1;
  }
  if (colon) {
    char base[64];
    size_t len = (size_t)(colon - sec);
    if (len >= sizeof base)
      len = sizeof base - 1;
    memcpy(base, sec, len);
    base[len] = '\0';
    if (!infb_key_section_variants(base)) {
      say(msg, cap, "section [%s] takes no variants", base);
      return 1;
    }
    if (!valid_variant_name(colon + 1)) {
      say(msg, cap, "bad variant name '%s' in [%s] (use a-z, 0-9, _ and -)", colon + 1, sec);
      return 1;
    }
  }
  return 0;
}

static const infb_estimator_info *
estimator_find(const char *name, size_t len)
{
  for (size_t i = 0; i < infb_nestimators; i++)
    if (strlen(infb_estimators[i].name) == len &&
        strncmp(infb_estimators[i].name, name, len) == 0)
      return &infb_estimators[i];
  return NULL;
}

/* [estimators] run: known estimators or variants of them, each named once. */
static int
check_run(const char *v, char *msg, size_t cap)
{
  size_t n;
  char **items = infb_strlist_split(v, &n);
  if (!items) {
    say(msg, cap, "[estimators] run: out of memory");
    return 1;
  }
  int bad = 0;
  if (n == 0) {
    say(msg, cap, "[estimators] run: no estimator named");
    bad = 1;
  }
  for (size_t i = 0; i < n && !bad; i++) {
    const char *colon = strchr(items[i], ':');
    size_t blen = colon ? (size_t)(colon - items[i]) : strlen(items[i]);
    if (!estimator_find(items[i], blen)) {
      char known[128] = "";
      for (size_t j = 0; j < infb_nestimators; j++) {
        if (j)
          strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, infb_estimators[j].name, sizeof known - strlen(known) - 1);
      }
      say(msg, cap, "[estimators] run: unknown estimator '%s' (known: %s)", items[i], known);
      bad = 1;
    } else if (colon && !valid_variant_name(colon + 1)) {
      say(msg, cap, "[estimators] run: bad variant name in '%s' (use a-z, 0-9, _ and -)",
          items[i]);
      bad = 1;
    }
    for (size_t j = 0; j < i && !bad; j++)
      if (strcmp(items[i], items[j]) == 0) {
        say(msg, cap, "[estimators] run: estimator '%s' named twice", items[i]);
        bad = 1;
      }
  }
  infb_strlist_free(items);
  return bad;
}

/* A number for key k: parse and check the range.  0, or nonzero with msg set. */
static int
check_number(const infb_key *k, const char *sec, const char *v, const char *orwords, char *msg,
             size_t cap)
{
  char range[96];
  range_text(k, range, sizeof range);
  if (k->type == INFB_KEY_INT) {
    long x;
    const char *why = "";
    if (infb_parse_long(v, &x, &why)) {
      if (strcmp(why, "out of range") == 0)
        say(msg, cap, "[%s] %s: %s is out of range (%s)", sec, k->name, v, range);
      else
        say(msg, cap, "[%s] %s: '%s' is not an integer", sec, k->name, v);
      return 1;
    }
    if (!in_range(k, (double)x)) {
      say(msg, cap, "[%s] %s: %s is out of range (%s)", sec, k->name, v, range);
      return 1;
    }
    return 0;
  }
  double x;
  const char *why = "";
  if (infb_parse_double(v, &x, &why)) {
    if (strcmp(why, "out of range") == 0 || strcmp(why, "not finite") == 0)
      say(msg, cap, "[%s] %s: '%s' is not finite", sec, k->name, v);
    else if (orwords)
      say(msg, cap, "[%s] %s: '%s' is not a number or %s", sec, k->name, v, orwords);
    else
      say(msg, cap, "[%s] %s: '%s' is not a number", sec, k->name, v);
    return 1;
  }
  if (!in_range(k, x)) {
    say(msg, cap, "[%s] %s: %s is out of range (%s)", sec, k->name, v, range);
    return 1;
  }
  return 0;
}

/* Validate a value (trimmed) of key k in section sec (as written) for its type.  0, or
 * nonzero with msg set to "[sec] key: reason". */
static int
check_type(const infb_key *k, const char *sec, const char *v, char *msg, size_t cap)
{
  if (!*v && k->type != INFB_KEY_STRING && k->type != INFB_KEY_LIST) {
    say(msg, cap, "[%s] %s: empty value", sec, k->name);
    return 1;
  }
  switch (k->type) {
  case INFB_KEY_STRING:
    if (strcmp(k->section, "experiment") == 0 && strcmp(k->name, "name") == 0) {
      if (!*v) {
        say(msg, cap, "[%s] %s: empty value", sec, k->name);
        return 1;
      }
      if (strchr(v, '/')) {
        say(msg, cap, "[%s] %s: '%s' must not contain '/'", sec, k->name, v);
        return 1;
      }
      if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
        say(msg, cap, "[%s] %s: '%s' is not a usable name", sec, k->name, v);
        return 1;
      }
    }
    return 0;
  case INFB_KEY_PATH:
    return 0;
  case INFB_KEY_LIST:
    if (strcmp(k->section, "estimators") == 0 && strcmp(k->name, "run") == 0)
      return check_run(v, msg, cap);
    return 0;
  case INFB_KEY_BOOL: {
    int b;
    if (infb_parse_bool(v, &b, NULL)) {
      say(msg, cap, "[%s] %s: '%s' is not a boolean (yes or no)", sec, k->name, v);
      return 1;
    }
    return 0;
  }
  case INFB_KEY_ENUM:
    if (!choice_match(k->choices, v)) {
      char list[128];
      choice_list(k->choices, list, sizeof list);
      say(msg, cap, "[%s] %s: '%s' is not one of %s", sec, k->name, v, list);
      return 1;
    }
    return 0;
  case INFB_KEY_INT:
  case INFB_KEY_DOUBLE:
    return check_number(k, sec, v, NULL, msg, cap);
  case INFB_KEY_DOUBLE_OR: {
    if (choice_match(k->choices, v))
      return 0;
    char words[128];
    if (strchr(k->choices, '|')) {
      char list[112];
      choice_list(k->choices, list, sizeof list);
      snprintf(words, sizeof words, "one of %s", list);
    } else
      snprintf(words, sizeof words, "'%s'", k->choices);
    return check_number(k, sec, v, words, msg, cap);
  }
  case INFB_KEY_SWEEP: {
    double lo, hi;
    long n;
    char lo_txt[128], hi_txt[128], range[96];
    int r = parse_sweep(v, &lo, &hi, &n, lo_txt, hi_txt, sizeof lo_txt);
    if (r == 0)
      return check_number(k, sec, v, NULL, msg, cap);
    if (r < 0) {
      say(msg, cap, "[%s] %s: '%s' is not " SWEEP_FORM, sec, k->name, v);
      return 1;
    }
    range_text(k, range, sizeof range);
    if (!in_range(k, lo) || !in_range(k, hi)) {
      say(msg, cap, "[%s] %s: %s is out of range (%s)", sec, k->name,
          in_range(k, lo) ? hi_txt : lo_txt, range);
      return 1;
    }
    if (!(lo > 0.0)) {
      say(msg, cap, "[%s] %s: sweep '%s' needs LO > 0 (it is logarithmic)", sec, k->name, v);
      return 1;
    }
    if (!(lo < hi)) {
      say(msg, cap, "[%s] %s: sweep '%s' needs LO < HI", sec, k->name, v);
      return 1;
    }
    if (n < 2) {
      say(msg, cap, "[%s] %s: sweep '%s' needs N >= 2 points", sec, k->name, v);
      return 1;
    }
    if (n > INFB_CONFIG_SWEEP_MAX) {
      say(msg, cap, "[%s] %s: sweep '%s' has more than %d points", sec, k->name, v,
          INFB_CONFIG_SWEEP_MAX);
      return 1;
    }
    return 0;
  }
  }
  return 0;
}

static void put_value(sbuf *b, const infb_key *k, const char *v);


/* A valid value whose line in the canonical text ("key = value", as a run's config.ini
 * records it) would not read back as itself: longer than a line may be, or holding a
 * comment (';' or '#' starting the value or following a blank).  File values are never
 * the latter as written, but a list's canonical ", " can make them so ("a,;b"), and
 * --set values can be anything.  0, or nonzero with msg set. */
static int
check_recordable(const infb_key *k, const char *sec, const char *v, char *msg, size_t cap)
{
  sbuf b = {NULL, 0, 0, 0};
  sb_puts(&b, "");
  put_value(&b, k, v);
  if (b.fail) {
    say(msg, cap, "[%s] %s: out of memory", sec, k->name);
    return 1;
  }
  int bad = 0;
  size_t line = strlen(k->name) + strlen(" = ") + b.len;
  for (size_t i = 0; i < b.len && !bad; i++)
    if ((b.p[i] == ';' || b.p[i] == '#') && (i == 0 || is_blank((unsigned char)b.p[i - 1]))) {
      say(msg, cap, "[%s] %s: '%s' cannot be recorded: a '%c' at the start of a word would "
          "begin a comment", sec, k->name, b.p, b.p[i]);
      bad = 1;
    }
  if (!bad && b.len > 0 && line > LINE_MAX_CHARS) {
    say(msg, cap, "[%s] %s: the value is too long to be recorded (its line '%s = ...' would "
        "have %zu characters, at most %d)", sec, k->name, k->name, line, LINE_MAX_CHARS);
    bad = 1;
  }
  free(b.p);
  return bad;
}

/* Validate a value: its type, then that the canonical text can record it. */
static int
check_value(const infb_key *k, const char *sec, const char *v, char *msg, size_t cap)
{
  return check_type(k, sec, v, msg, cap) || check_recordable(k, sec, v, msg, cap);
}

/* ------------------------------------------------------------------ storage */

static entry *
entry_find(const infb_config *c, const char *section, const char *key)
{
  for (size_t i = 0; i < c->ne; i++)
    if (strcmp(c->e[i].section, section) == 0 && strcmp(c->e[i].key, key) == 0)
      return &c->e[i];
  return NULL;
}

static section_rec *
section_find(const infb_config *c, const char *name)
{
  for (size_t i = 0; i < c->ns; i++)
    if (strcmp(c->s[i].name, name) == 0)
      return &c->s[i];
  return NULL;
}

/* Set section.key = value (replacing an existing value).  GSL_ENOMEM on failure. */
static int
entry_put(infb_config *c, const char *section, const char *key, const char *value, int line,
          const char *origin)
{
  entry *e = entry_find(c, section, key);
  char *v = infb_strdup(value);
  char *o = origin ? infb_strdup(origin) : NULL;
  if (!v || (origin && !o)) {
    free(v);
    free(o);
    return GSL_ENOMEM;
  }
  if (!e) {
    if (c->ne == c->cap_e) {
      size_t cap = c->cap_e ? 2 * c->cap_e : 16;
      entry *p = realloc(c->e, cap * sizeof *p);
      if (!p) {
        free(v);
        free(o);
        return INFB_ERROR(GSL_ENOMEM, "out of memory for configuration entries");
      }
      c->e = p;
      c->cap_e = cap;
    }
    e = &c->e[c->ne];
    e->section = infb_strdup(section);
    e->key = infb_strdup(key);
    if (!e->section || !e->key) {
      free(e->section);
      free(e->key);
      free(v);
      free(o);
      return GSL_ENOMEM;
    }
    e->value = NULL;
    e->origin = NULL;
    c->ne++;
  }
  free(e->value);
  free(e->origin);
  e->value = v;
  e->origin = o;
  e->line = line;
  return GSL_SUCCESS;
}

/* Remember that a section was named (first place only).  GSL_ENOMEM on failure. */
static int
section_note(infb_config *c, const char *name, int line, const char *origin)
{
  if (section_find(c, name))
    return GSL_SUCCESS;
  if (c->ns == c->cap_s) {
    size_t cap = c->cap_s ? 2 * c->cap_s : 8;
    section_rec *p = realloc(c->s, cap * sizeof *p);
    if (!p)
      return INFB_ERROR(GSL_ENOMEM, "out of memory for configuration sections");
    c->s = p;
    c->cap_s = cap;
  }
  section_rec *s = &c->s[c->ns];
  s->name = infb_strdup(name);
  s->origin = origin ? infb_strdup(origin) : NULL;
  if (!s->name || (origin && !s->origin)) {
    free(s->name);
    free(s->origin);
    return GSL_ENOMEM;
  }
  s->line = line;
  c->ns++;
  return GSL_SUCCESS;
}

/* The entry that supplies section.key: the section's own, else (for a variant) the
 * base's.  NULL when neither is set. */
static const entry *
lookup(const infb_config *c, const char *section, const char *key)
{
  const entry *e = entry_find(c, section, key);
  if (e)
    return e;
  const char *colon = strchr(section, ':');
  if (!colon)
    return NULL;
  char base[64];
  size_t len = (size_t)(colon - section);
  if (len >= sizeof base)
    return NULL;
  memcpy(base, section, len);
  base[len] = '\0';
  return entry_find(c, base, key);
}

/* ------------------------------------------------------------------ alloc / free */

infb_config *
infb_config_alloc(void)
{
  infb_config *c = infb_calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->file = infb_strdup("");
  if (!c->file) {
    free(c);
    return NULL;
  }
  return c;
}

static void
free_estimators(infb_config *c)
{
  if (c->estimators)
    infb_strlist_free(c->estimators);
  c->estimators = NULL;
}

void
infb_config_free(infb_config *c)
{
  if (!c)
    return;
  for (size_t i = 0; i < c->ne; i++) {
    free(c->e[i].section);
    free(c->e[i].key);
    free(c->e[i].value);
    free(c->e[i].origin);
  }
  free(c->e);
  for (size_t i = 0; i < c->ns; i++) {
    free(c->s[i].name);
    free(c->s[i].origin);
  }
  free(c->s);
  free_estimators(c);
  free(c->file);
  free(c);
}

/* ------------------------------------------------------------------ reading a file */

typedef struct parse_state {
  infb_config *c;
  const char *buf; /* the whole file */
  size_t len, pos; /* its length and the reader's position */
  int line;        /* number of the line last handed to inih */
  char *section;   /* current section (owned), NULL before the first header */
  int section_ok;  /* the current section is valid */
  char *key;       /* the key of the current line (owned), as written */
  int err_line;    /* line of the first error, 0 none */
  char err[512];   /* its message, without "FILE:LINE: " */
  int nomem;       /* an allocation failed */
} parse_state;

#define MALFORMED "malformed line (expected key = value or [section])"

static void record(parse_state *st, int line, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
record(parse_state *st, int line, const char *fmt, ...)
{
  if (st->err_line && st->err_line <= line)
    return;
  st->err_line = line;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->err, sizeof st->err, fmt, ap);
  va_end(ap);
}

static char *
dup_range(const char *s, size_t n)
{
  char *p = infb_malloc(n + 1, 1);
  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* Hand inih an empty line (nothing to do for it). */
static char *
emit_blank(char *str)
{
  str[0] = '\n';
  str[1] = '\0';
  return str;
}

/* inih's fgets-style reader: one line of the file per call, cleaned (see the file
 * comment).  Lines are numbered from 1; line shapes and section headers are checked
 * here, keys and values in the handler. */
static char *
reader(char *str, int num, void *stream)
{
  parse_state *st = stream;
  if (st->pos >= st->len || num < 3)
    return NULL;
  const char *seg = st->buf + st->pos;
  const char *nl = memchr(seg, '\n', st->len - st->pos);
  size_t n = nl ? (size_t)(nl - seg) : st->len - st->pos;
  st->pos += n + (nl ? 1 : 0);
  st->line++;
  free(st->key);
  st->key = NULL;

  if (memchr(seg, '\0', n)) {
    record(st, st->line, "line contains a NUL byte");
    return emit_blank(str);
  }
  /* A UTF-8 byte-order mark on the first line is ignored. */
  if (st->line == 1 && n >= 3 && memcmp(seg, "\xEF\xBB\xBF", 3) == 0) {
    seg += 3;
    n -= 3;
  }
  size_t a = 0;
  while (a < n && is_blank((unsigned char)seg[a]))
    a++;
  /* A comment: ';' or '#' that starts the line or follows a blank. */
  size_t b = a;
  while (b < n &&
         !((seg[b] == ';' || seg[b] == '#') && (b == a || is_blank((unsigned char)seg[b - 1]))))
    b++;
  while (b > a && is_blank((unsigned char)seg[b - 1]))
    b--;
  if (b == a)
    return emit_blank(str);
  size_t len = b - a;
  const char *s = seg + a;
  if (len + 2 > (size_t)num) {
    record(st, st->line, "line too long (at most %d characters)", num - 2);
    return emit_blank(str);
  }

  if (s[0] == '[') {
    const char *close = memchr(s, ']', len);
    if (!close || close != s + len - 1) {
      record(st, st->line, MALFORMED);
      return emit_blank(str);
    }
    size_t i = 1, j = len - 1;
    while (i < j && is_blank((unsigned char)s[i]))
      i++;
    while (j > i && is_blank((unsigned char)s[j - 1]))
      j--;
    char *name = dup_range(s + i, j - i);
    if (!name) {
      st->nomem = 1;
      return NULL;
    }
    free(st->section);
    st->section = name;
    char why[256];
    st->section_ok = !check_section(name, why, sizeof why);
    if (!st->section_ok)
      record(st, st->line, "%s", why);
    else if (section_note(st->c, name, st->line, NULL)) {
      st->nomem = 1;
      return NULL;
    }
    snprintf(str, (size_t)num, "[%s]\n", name);
    return str;
  }

  size_t eq = 0;
  while (eq < len && s[eq] != '=' && s[eq] != ':')
    eq++;
  size_t kend = eq;
  while (kend > 0 && is_blank((unsigned char)s[kend - 1]))
    kend--;
  if (eq == len || kend == 0) {
    record(st, st->line, MALFORMED);
    return emit_blank(str);
  }
  st->key = dup_range(s, kend);
  if (!st->key) {
    st->nomem = 1;
    return NULL;
  }
  memcpy(str, s, len);
  str[len] = '\n';
  str[len + 1] = '\0';
  return str;
}

/* inih's handler: one key = value of the current line.  The section and key are taken
 * from the reader's parse of the line (inih truncates long names). */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
  parse_state *st = user;
  (void)section;
  if (!name || !st->key)
    return 1; /* a section-start call, or a line the reader already judged */
  int line = st->line;
  if (!st->section) {
    record(st, line, "key '%s' is outside any section", st->key);
    return 0;
  }
  if (!st->section_ok)
    return 1; /* the header's error is already recorded, on an earlier line */
  const infb_key *k = infb_key_find(st->section, st->key);
  if (!k) {
    record(st, line, "unknown key '%s' in [%s]", st->key, st->section);
    return 0;
  }
  entry *e = entry_find(st->c, st->section, st->key);
  if (e && e->origin == NULL) {
    record(st, line, "duplicate key '%s' in [%s]", st->key, st->section);
    return 0;
  }
  char why[512];
  char *val = infb_strdup(value ? value : "");
  if (!val) {
    st->nomem = 1;
    return 0;
  }
  infb_trim_copy(val, strlen(val) + 1, val);
  int ok = 1;
  if (check_value(k, st->section, val, why, sizeof why)) {
    record(st, line, "%s", why);
    ok = 0;
  } else if (!e && entry_put(st->c, st->section, st->key, val, line, NULL)) {
    st->nomem = 1; /* (with e set, a --set given before the file wins) */
    ok = 0;
  }
  free(val);
  return ok;
}

/* The whole file in memory (NUL-terminated), at most INFB_CONFIG_MAX_BYTES + 1 bytes of
 * it (*len tells whether there was more).  NULL with errno set on failure. */
static char *
slurp(FILE *f, size_t *len)
{
  const size_t most = INFB_CONFIG_MAX_BYTES + 1;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (!buf)
    return NULL;
  for (;;) {
    if (n + 1 >= cap && cap <= most) {
      char *p = realloc(buf, cap * 2);
      if (!p) {
        free(buf);
        errno = ENOMEM;
        return NULL;
      }
      buf = p;
      cap *= 2;
    }
    size_t want = cap - n - 1;
    if (want > most - n)
      want = most - n;
    size_t got = want ? fread(buf + n, 1, want, f) : 0;
    n += got;
    if (got == 0) {
      if (want && ferror(f)) {
        int saved = errno ? errno : EIO;
        free(buf);
        errno = saved;
        return NULL;
      }
      break;
    }
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* Take path as the config's file; one file per config. */
static int
take_file(infb_config *c, const char *path, char *msg, size_t cap)
{
  if (c->have_file) {
    say(msg, cap, "%s: a configuration reads one file (already read %s)", path, c->file);
    return INFB_ECONFIG;
  }
  char *file = infb_strdup(path);
  if (!file) {
    say(msg, cap, "%s: out of memory", path);
    return GSL_ENOMEM;
  }
  free(c->file);
  c->file = file;
  c->have_file = 1;
  return GSL_SUCCESS;
}

/* Parse the file's text (the config's file already taken). */
static int
parse_text(infb_config *c, const char *path, const char *text, size_t len, char *msg,
           size_t cap)
{
  if (len > INFB_CONFIG_MAX_BYTES) {
    say(msg, cap, "%s: is larger than %zu MiB (%zu bytes), the most a configuration file may "
        "hold", path, INFB_CONFIG_MAX_BYTES >> 20, INFB_CONFIG_MAX_BYTES);
    return INFB_ECONFIG;
  }
  parse_state st;
  memset(&st, 0, sizeof st);
  st.c = c;
  st.buf = text;
  st.len = len;
  int ret = ini_parse_stream(reader, &st, handler, &st);
  free(st.section);
  free(st.key);
  if (st.nomem || ret == -2) {
    say(msg, cap, "%s: out of memory", path);
    return GSL_ENOMEM;
  }
  /* inih's own verdict is a backstop: every malformed line should already be known. */
  if (ret > 0 && (st.err_line == 0 || ret < st.err_line))
    record(&st, ret, MALFORMED);
  if (st.err_line) {
    say(msg, cap, "%s:%d: %s", path, st.err_line, st.err);
    return INFB_ECONFIG;
  }
  return GSL_SUCCESS;
}

int
infb_config_read(infb_config *c, const char *path, char *msg, size_t cap)
{
  int status = take_file(c, path, msg, cap);
  if (status)
    return status;
  FILE *f = fopen(path, "r");
  if (!f) {
    say(msg, cap, "%s: cannot open: %s", path, strerror(errno));
    return INFB_ECONFIG;
  }
  size_t len = 0;
  errno = 0;
  char *buf = slurp(f, &len);
  int saved = errno;
  fclose(f);
  if (!buf) {
    say(msg, cap, "%s: cannot read: %s", path, strerror(saved));
    return saved == ENOMEM ? GSL_ENOMEM : INFB_ECONFIG;
  }
  status = parse_text(c, path, buf, len, msg, cap);
  free(buf);
  return status;
}

int
infb_config_read_text(infb_config *c, const char *path, const char *text, size_t len,
                      char *msg, size_t cap)
{
  int status = take_file(c, path, msg, cap);
  return status ? status : parse_text(c, path, text, len, msg, cap);
}

/* ------------------------------------------------------------------ --set */

int
infb_config_set(infb_config *c, const char *assignment, char *msg, size_t cap)
{
  const char *eq = strchr(assignment, '=');
  size_t lhs_len = eq ? (size_t)(eq - assignment) : 0;
  char *lhs = dup_range(assignment, lhs_len);
  char *val = infb_strdup(eq ? eq + 1 : "");
  if (!lhs || !val) {
    free(lhs);
    free(val);
    say(msg, cap, "--set %s: out of memory", assignment);
    return GSL_ENOMEM;
  }
  infb_trim_copy(lhs, lhs_len + 1, lhs);
  infb_trim_copy(val, strlen(val) + 1, val);
  char *dot = strchr(lhs, '.');
  char *sec = lhs, *key = dot ? dot + 1 : NULL;
  if (dot) {
    *dot = '\0';
    infb_trim_copy(sec, strlen(sec) + 1, sec);
    infb_trim_copy(key, strlen(key) + 1, key);
  }
  int status = INFB_ECONFIG;
  char why[512];
  const infb_key *k;
  if (!eq || !dot || !*sec || !*key) {
    say(msg, cap, "--set %s: expected SECTION.KEY=VALUE", assignment);
  } else if (check_section(sec, why, sizeof why)) {
    say(msg, cap, "--set %s: %s", assignment, why);
  } else if (!(k = infb_key_find(sec, key))) {
    say(msg, cap, "--set %s: unknown key '%s' in [%s]", assignment, key, sec);
  } else if (strpbrk(val, "\r\n")) {
    say(msg, cap, "--set %s: [%s] %s: the value contains a line break", assignment, sec, key);
  } else if (check_value(k, sec, val, why, sizeof why)) {
    say(msg, cap, "--set %s: %s", assignment, why);
  } else if (section_note(c, sec, 0, assignment) ||
             entry_put(c, sec, key, val, 0, assignment)) {
    say(msg, cap, "--set %s: out of memory", assignment);
    status = GSL_ENOMEM;
  } else {
    status = GSL_SUCCESS;
  }
  free(lhs);
  free(val);
  return status;
}

/* ------------------------------------------------------------------ resolve */

/* Where a message points: "FILE:LINE" for a file value, "--set S.K=V" for an override,
 * else "FILE" (or "--set" when no file was read). */
static void
where(const infb_config *c, int line, const char *origin, char *buf, size_t cap)
{
  if (origin)
    snprintf(buf, cap, "--set %s", origin);
  else if (c->have_file && line > 0)
    snprintf(buf, cap, "%s:%d", c->file, line);
  else
    snprintf(buf, cap, "%s", c->have_file ? c->file : "--set");
}

static int
models_include(const char *models, const char *model)
{
  return choice_match(models, model);
}

/* The experiment's default name: the file's base name without ".ini". */
static char *
default_name(const infb_config *c)
{
  const char *fallback = "experiment";
  if (!c->have_file)
    return infb_strdup(fallback);
  const char *slash = strrchr(c->file, '/');
  const char *base = slash ? slash + 1 : c->file;
  size_t n = strlen(base);
  if (n > 4 && strcmp(base + n - 4, ".ini") == 0)
    n -= 4;
  /* "" , "." and ".." (from ".ini", "..ini", "...ini") name no directory */
  if (n == 0 || (n == 1 && base[0] == '.') || (n == 2 && base[0] == '.' && base[1] == '.'))
    return infb_strdup(fallback);
  return dup_range(base, n);
}

/* Nonzero when a shared section has the variant ":NAME" (e.g. [encoder:NAME]), which
 * is enough to define the estimator variant NAME. */
static int
shared_variant_exists(const infb_config *c, const char *suffix)
{
  for (size_t j = 0; j < c->ns; j++) {
    const char *colon = strchr(c->s[j].name, ':');
    if (!colon || strcmp(colon, suffix) != 0)
      continue;
    char base[64];
    snprintf(base, sizeof base, "%.*s", (int)(colon - c->s[j].name), c->s[j].name);
    if (infb_key_section_shared(base))
      return 1;
  }
  return 0;
}

int
infb_config_resolve(infb_config *c, char *msg, size_t cap)
{
  char at[1024];
  where(c, 0, NULL, at, sizeof at);

  for (size_t i = 0; i < infb_nkeys; i++) {
    const infb_key *k = &infb_keys[i];
    if (k->required && !infb_config_get(c, k->section, k->name)) {
      say(msg, cap, "%s: missing required key '%s' in [%s]", at, k->name, k->section);
      return INFB_ECONFIG;
    }
  }

  const char *model = infb_config_get(c, "model", "type");
  int supervised = strcmp(model, "lingauss") != 0 && strcmp(model, "vae") != 0;
  if (strcmp(infb_config_get(c, "data", "source"), "csv") == 0) {
    if (!infb_config_get(c, "data", "train")) {
      say(msg, cap, "%s: [data] train is required when source = csv", at);
      return INFB_ECONFIG;
    }
    if (supervised && !infb_config_get(c, "data", "target")) {
      say(msg, cap, "%s: [data] target is required for model %s", at, model);
      return INFB_ECONFIG;
    }
  }

  /* Images go with the VAE, and the VAE with images. */
  int is_vae = strcmp(model, "vae") == 0;
  int is_idx = strcmp(infb_config_get(c, "data", "source"), "idx") == 0;
  if (is_vae != is_idx) {
    if (is_vae)
      say(msg, cap, "%s: [data] source must be idx for model vae", at);
    else
      say(msg, cap, "%s: [data] source = idx needs [model] type = vae", at);
    return INFB_ECONFIG;
  }

  /* [estimators] run against the model and the variant sections. */
  const entry *run = entry_find(c, "estimators", "run");
  char run_at[1024];
  where(c, run ? run->line : 0, run ? run->origin : NULL, run_at, sizeof run_at);
  size_t n;
  char **items = infb_strlist_split(infb_config_get(c, "estimators", "run"), &n);
  if (!items) {
    say(msg, cap, "%s: out of memory", at);
    return GSL_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const char *colon = strchr(items[i], ':');
    size_t blen = colon ? (size_t)(colon - items[i]) : strlen(items[i]);
    const infb_estimator_info *est = estimator_find(items[i], blen);
    if (!est) { /* validated when set; defensive */
      say(msg, cap, "%s: [estimators] run: unknown estimator '%s'", run_at, items[i]);
      infb_strlist_free(items);
      return INFB_ECONFIG;
    }
    if (!models_include(est->models, model)) {
      say(msg, cap, "%s: [estimators] run: estimator '%s' does not apply to model %s", run_at,
          items[i], model);
      infb_strlist_free(items);
      return INFB_ECONFIG;
    }
    if (colon && !section_find(c, items[i]) && !shared_variant_exists(c, colon)) {
      say(msg, cap, "%s: [estimators] run: no section [%s] for estimator '%s'", run_at,
          items[i], items[i]);
      infb_strlist_free(items);
      return INFB_ECONFIG;
    }
  }
  for (size_t j = 0; j < c->ns; j++) {
    if (!strchr(c->s[j].name, ':'))
      continue;
    int named = 0;
    const char *suffix = strchr(c->s[j].name, ':');
    size_t blen = (size_t)(suffix - c->s[j].name);
    char sbase[64];
    snprintf(sbase, sizeof sbase, "%.*s", (int)blen, c->s[j].name);
    int shared = infb_key_section_shared(sbase);
    for (size_t i = 0; i < n && !named; i++) {
      const char *isuf = strchr(items[i], ':');
      named = shared ? isuf && strcmp(isuf, suffix) == 0 : strcmp(items[i], c->s[j].name) == 0;
    }
    if (!named) {
      char sat[1024];
      where(c, c->s[j].line, c->s[j].origin, sat, sizeof sat);
      if (shared)
        say(msg, cap, "%s: section [%s] serves no estimator variant '%s' in [estimators] run",
            sat, c->s[j].name, suffix + 1);
      else
        say(msg, cap, "%s: section [%s] is not named in [estimators] run", sat, c->s[j].name);
      infb_strlist_free(items);
      return INFB_ECONFIG;
    }
  }

  /* [ais] and [bdmc] run when the section is given (their run key says so in the
   * canonical text, so a recorded config reads back the same); their settings checked
   * against each other. */
  static const char *const present_runs[] = {"ais", "bdmc"};
  for (size_t j = 0; j < 2; j++) {
    const section_rec *sr = section_find(c, present_runs[j]);
    if (sr && !entry_find(c, present_runs[j], "run") &&
        entry_put(c, present_runs[j], "run", "yes", sr->line, sr->origin)) {
      infb_strlist_free(items);
      say(msg, cap, "%s: out of memory", at);
      return GSL_ENOMEM;
    }
  }
  if (infb_config_bool(c, "ais", "run") || infb_config_bool(c, "bdmc", "run")) {
    const char *bad = NULL;
    int line_key = 0;
    char wat[1024];
    double step = infb_config_double(c, "ais", "step_size");
    double lo = infb_config_double(c, "ais", "step_min"), hi = infb_config_double(c, "ais", "step_max");
    long ap = infb_config_int(c, "ais", "points"), ep = infb_config_int(c, "evaluate", "points");
    char why[256];
    if (!is_vae) {
      bad = infb_config_bool(c, "ais", "run") ? "run" : NULL;
      snprintf(why, sizeof why, "AIS and BDMC need a model with a decoder: [model] type = vae");
      if (!bad) {
        const entry *e = entry_find(c, "bdmc", "run");
        where(c, e ? e->line : 0, e ? e->origin : NULL, wat, sizeof wat);
        say(msg, cap, "%s: [bdmc]: BDMC needs a sampler for p(x|z): [model] type = vae", wat);
        infb_strlist_free(items);
        return INFB_ECONFIG;
      }
    } else if (!(lo < hi)) {
      bad = "step_min";
      snprintf(why, sizeof why, "step_min = %g must be below step_max = %g", lo, hi);
    } else if (step < lo || step > hi) {
      bad = "step_size";
      snprintf(why, sizeof why, "step_size = %g lies outside the clamp [step_min, step_max] = "
               "[%g, %g]", step, lo, hi);
    } else if (ap > ep) {
      bad = "points";
      snprintf(why, sizeof why, "points = %ld is above [evaluate] points = %ld", ap, ep);
    }
    if (bad) {
      const entry *e = entry_find(c, "ais", bad);
      line_key = e ? e->line : 0;
      where(c, line_key, e ? e->origin : NULL, wat, sizeof wat);
      say(msg, cap, "%s: [ais] %s", wat, why);
      infb_strlist_free(items);
      return INFB_ECONFIG;
    }
    if (infb_config_bool(c, "bdmc", "run")) {
      size_t nt = 0;
      char **ts = infb_strlist_split(infb_config_get(c, "bdmc", "temperatures"), &nt);
      long prev = 1;
      int okt = ts && nt > 0;
      for (size_t i = 0; okt && i < nt; i++) {
        long v;
        okt = !infb_parse_long(ts[i], &v, NULL) && v > prev && v <= 100000000L;
        prev = v;
      }
      infb_strlist_free(ts);
      if (!okt) {
        const entry *e = entry_find(c, "bdmc", "temperatures");
        where(c, e ? e->line : 0, e ? e->origin : NULL, wat, sizeof wat);
        say(msg, cap, "%s: [bdmc] temperatures: a list of increasing integers from 2 to 1e8 "
            "is needed", wat);
        infb_strlist_free(items);
        return INFB_ECONFIG;
      }
    }
  }

  if (!infb_config_get(c, "experiment", "name")) {
    char *name = default_name(c);
    if (!name || entry_put(c, "experiment", "name", name, 0, NULL)) {
      free(name);
      infb_strlist_free(items);
      say(msg, cap, "%s: out of memory", at);
      return GSL_ENOMEM;
    }
    free(name);
  }
  free_estimators(c);
  c->estimators = items;
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ accessors */

const char *
infb_config_get(const infb_config *c, const char *section, const char *key)
{
  const entry *e = lookup(c, section, key);
  if (e)
    return e->value;
  const infb_key *k = infb_key_find(section, key);
  return k ? k->def : NULL;
}

double
infb_config_double(const infb_config *c, const char *section, const char *key)
{
  const char *v = infb_config_get(c, section, key);
  double x;
  if (!v || infb_parse_double(v, &x, NULL))
    return NAN;
  return x;
}

long
infb_config_int(const infb_config *c, const char *section, const char *key)
{
  const char *v = infb_config_get(c, section, key);
  long x;
  if (!v || infb_parse_long(v, &x, NULL))
    return 0;
  return x;
}

int
infb_config_bool(const infb_config *c, const char *section, const char *key)
{
  const char *v = infb_config_get(c, section, key);
  int b;
  if (!v || infb_parse_bool(v, &b, NULL))
    return 0;
  return b;
}

int
infb_config_is_word(const infb_config *c, const char *section, const char *key,
                    const char *word)
{
  const char *v = infb_config_get(c, section, key);
  return v && strcmp(v, word) == 0;
}

int
infb_config_sweep(const infb_config *c, const char *section, const char *key, double **vals,
                  size_t *n)
{
  *vals = NULL;
  *n = 0;
  const char *v = infb_config_get(c, section, key);
  if (!v)
    return INFB_ERROR(GSL_EINVAL, "[%s] %s is not set", section, key);
  double lo, hi;
  long count;
  char lo_txt[128], hi_txt[128];
  int r = parse_sweep(v, &lo, &hi, &count, lo_txt, hi_txt, sizeof lo_txt);
  if (r == 0) {
    if (infb_parse_double(v, &lo, NULL))
      return INFB_ERROR(GSL_EINVAL, "[%s] %s: '%s' is not a number", section, key, v);
    count = 1;
  } else if (r < 0 || count < 2 || !(lo > 0.0) || !(lo < hi)) {
    return INFB_ERROR(GSL_EINVAL, "[%s] %s: '%s' is not a valid sweep", section, key, v);
  }
  double *out = infb_malloc((size_t)count, sizeof *out);
  if (!out)
    return GSL_ENOMEM;
  out[0] = lo;
  if (count > 1) {
    /* log-spaced: log10 v_i = ((N−1−i) log10 LO + i log10 HI)/(N−1); the endpoints are
     * exact, and so are the powers of ten of a decade sweep (1e-3..1e3/7 gives 0.01, 1) */
    double a = log10(lo), b = log10(hi), m = (double)(count - 1);
    for (long i = 1; i < count - 1; i++)
      out[i] = pow(10.0, ((m - (double)i) * a + (double)i * b) / m);
    out[count - 1] = hi;
  }
  *vals = out;
  *n = (size_t)count;
  return GSL_SUCCESS;
}

char *
infb_config_path(const infb_config *c, const char *section, const char *key)
{
  const char *v = infb_config_get(c, section, key);
  if (!v)
    return NULL;
  const char *slash = c->have_file ? strrchr(c->file, '/') : NULL;
  if (v[0] == '/' || !slash)
    return infb_strdup(v);
  size_t dlen = (size_t)(slash - c->file) + 1; /* with the '/' */
  size_t vlen = strlen(v);
  char *p = infb_malloc(dlen + vlen + 1, 1);
  if (!p)
    return NULL;
  memcpy(p, c->file, dlen);
  memcpy(p + dlen, v, vlen + 1);
  return p;
}

int
infb_config_line(const infb_config *c, const char *section, const char *key)
{
  const entry *e = lookup(c, section, key);
  return e ? e->line : 0;
}

const char *
infb_config_file(const infb_config *c)
{
  return c->file;
}

char *const *
infb_config_estimators(const infb_config *c)
{
  static char *const none[] = {NULL};
  return c->estimators ? c->estimators : none;
}

/* ------------------------------------------------------------------ canonical form */

/* Append the normalised value of key k (text v) to b. */
static void
put_value(sbuf *b, const infb_key *k, const char *v)
{
  char num[64];
  switch (k->type) {
  case INFB_KEY_INT: {
    long x;
    if (!infb_parse_long(v, &x, NULL)) {
      sb_printf(b, "%ld", x);
      return;
    }
    break;
  }
  case INFB_KEY_DOUBLE_OR:
    if (choice_match(k->choices, v))
      break;
    /* fall through */
  case INFB_KEY_DOUBLE: {
    double x;
    if (!infb_parse_double(v, &x, NULL)) {
      fmt_double(num, sizeof num, x);
      sb_puts(b, num);
      return;
    }
    break;
  }
  case INFB_KEY_SWEEP: {
    double lo, hi;
    long n;
    char lo_txt[128], hi_txt[128];
    int r = parse_sweep(v, &lo, &hi, &n, lo_txt, hi_txt, sizeof lo_txt);
    if (r == 0 && !infb_parse_double(v, &lo, NULL)) {
      fmt_double(num, sizeof num, lo);
      sb_puts(b, num);
      return;
    }
    if (r > 0) {
      fmt_double(num, sizeof num, lo);
      sb_puts(b, num);
      sb_puts(b, "..");
      fmt_double(num, sizeof num, hi);
      sb_puts(b, num);
      sb_printf(b, "/%ld", n);
      return;
    }
    break;
  }
  case INFB_KEY_BOOL: {
    int x;
    if (!infb_parse_bool(v, &x, NULL)) {
      sb_puts(b, x ? "yes" : "no");
      return;
    }
    break;
  }
  case INFB_KEY_LIST: {
    size_t n;
    char **items = infb_strlist_split(v, &n);
    if (!items) {
      b->fail = 1;
      return;
    }
    for (size_t i = 0; i < n; i++) {
      if (i)
        sb_puts(b, ", ");
      sb_puts(b, items[i]);
    }
    infb_strlist_free(items);
    return;
  }
  case INFB_KEY_STRING:
  case INFB_KEY_PATH:
  case INFB_KEY_ENUM:
    break;
  }
  sb_puts(b, v);
}

static int
cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
cmp_key(const void *a, const void *b)
{
  return strcmp((*(const infb_key *const *)a)->name, (*(const infb_key *const *)b)->name);
}

/* The canonical text, with or without the execution settings (infb_key.exec). */
static char *
canonical(const infb_config *c, int with_exec, infb_config_keep_fn keep)
{
  /* The sections: every section of the table, then each variant section named. */
  size_t nsec = 0;
  const char **secs = infb_malloc(infb_nkeys + c->ns + 1, sizeof *secs);
  const infb_key **keys = infb_malloc(infb_nkeys + 1, sizeof *keys);
  if (!secs || !keys) {
    free(secs);
    free(keys);
    return NULL;
  }
  for (size_t i = 0; i < infb_nkeys; i++) {
    int seen = 0;
    for (size_t j = 0; j < nsec && !seen; j++)
      seen = strcmp(secs[j], infb_keys[i].section) == 0;
    if (!seen)
      secs[nsec++] = infb_keys[i].section;
  }
  for (size_t j = 0; j < c->ns; j++)
    if (strchr(c->s[j].name, ':'))
      secs[nsec++] = c->s[j].name;
  qsort(secs, nsec, sizeof *secs, cmp_str);

  sbuf b = {NULL, 0, 0, 0};
  sb_puts(&b, "");
  for (size_t s = 0; s < nsec; s++) {
    const char *colon = strchr(secs[s], ':');
    size_t blen = colon ? (size_t)(colon - secs[s]) : strlen(secs[s]);
    size_t nk = 0;
    for (size_t i = 0; i < infb_nkeys; i++)
      if (strlen(infb_keys[i].section) == blen &&
          strncmp(infb_keys[i].section, secs[s], blen) == 0)
        keys[nk++] = &infb_keys[i];
    qsort(keys, nk, sizeof *keys, cmp_key);
    /* A recorded config (infb_config_set_recorded) names no section it holds no key of,
     * so sections added to the table since it was written leave its hash alone. */
    /* [ais] and [bdmc] exist only when they run: their settings then read back as a
     * given section (which runs), and a config without them hashes without them. */
    if ((strcmp(secs[s], "ais") == 0 || strcmp(secs[s], "bdmc") == 0) &&
        !infb_config_bool(c, secs[s], "run"))
      continue;
    size_t printed = 0;
    for (size_t i = 0; i < nk; i++)
      printed += (!c->recorded || lookup(c, secs[s], keys[i]->name) != NULL) &&
                 (!keep || keep(keys[i]->section, keys[i]->name));
    if ((c->recorded || keep) && printed == 0)
      continue;
    sb_puts(&b, "[");
    sb_puts(&b, secs[s]);
    sb_puts(&b, "]\n");
    for (size_t i = 0; i < nk; i++) {
      const char *v = infb_config_get(c, secs[s], keys[i]->name);
      if (!v || (c->recorded && !lookup(c, secs[s], keys[i]->name)) ||
          (keys[i]->exec && !with_exec) || (keep && !keep(keys[i]->section, keys[i]->name)))
        continue;
      sb_puts(&b, keys[i]->name);
      sb_puts(&b, " =");
      if (*v) {
        sb_puts(&b, " ");
        put_value(&b, keys[i], v);
      }
      sb_puts(&b, "\n");
    }
  }
  free(secs);
  free(keys);
  if (b.fail) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

void
infb_config_set_recorded(infb_config *c)
{
  c->recorded = 1;
}

char *
infb_config_canonical(const infb_config *c)
{
  return canonical(c, 1, NULL);
}

/* SHA-256 of the canonical text, with or without the execution settings. */
static int
hash(const infb_config *c, int with_exec, char hex[INFB_SHA256_HEX])
{
  char *text = canonical(c, with_exec, NULL);
  if (!text)
    return GSL_ENOMEM;
  infb_sha256_hex(text, strlen(text), hex);
  free(text);
  return GSL_SUCCESS;
}

int
infb_config_hash(const infb_config *c, char hex[INFB_SHA256_HEX])
{
  return hash(c, 0, hex);
}

int
infb_config_hash_with_exec(const infb_config *c, char hex[INFB_SHA256_HEX])
{
  return hash(c, 1, hex);
}

int
infb_config_hash_scope(const infb_config *c, infb_config_keep_fn keep, char hex[INFB_SHA256_HEX])
{
  char *text = canonical(c, 0, keep);
  if (!text)
    return GSL_ENOMEM;
  infb_sha256_hex(text, strlen(text), hex);
  free(text);
  return GSL_SUCCESS;
}
