/* The table of every configuration key: section, name, type, default, range, help.
 * The parser validates files and --set against it, `infbench list keys` prints it, and a
 * test checks that infbench.ini(5) documents every entry. */
#ifndef INFB_EXP_KEYS_H
#define INFB_EXP_KEYS_H

#include <stddef.h>

typedef enum {
  INFB_KEY_STRING,     /* free text */
  INFB_KEY_PATH,       /* a file path, relative to the INI file's directory */
  INFB_KEY_INT,        /* integer in [min, max] */
  INFB_KEY_DOUBLE,     /* finite real in the range */
  INFB_KEY_BOOL,       /* yes|no (also true/false/on/off/1/0) */
  INFB_KEY_ENUM,       /* one word of `choices` ("csv|synthetic") */
  INFB_KEY_LIST,       /* comma-separated words */
  INFB_KEY_SWEEP,      /* a double in the range, or a log sweep LO..HI/N (N ≥ 2 points) */
  INFB_KEY_DOUBLE_OR   /* a double in the range, or one word of `choices` ("evidence") */
} infb_key_type;

typedef struct infb_key {
  const char *section;  /* section name; an estimator section also takes variants
                           "[map:NAME]" whose keys override [map]'s */
  const char *name;     /* key name */
  infb_key_type type;
  const char *def;      /* default, as it would be written in the file; NULL: none (the
                           key is required when `required`, else simply unset) */
  int required;         /* must be given */
  double min, max;      /* numeric range (INT, DOUBLE, SWEEP, DOUBLE_OR) */
  int min_open;         /* nonzero: the range excludes min (e.g. "positive") */
  const char *choices;  /* ENUM / DOUBLE_OR words, '|'-separated */
  const char *help;     /* one line for `list keys` and the man page */
  int exec;             /* nonzero: an execution setting (threads), left out of the
                           config's hash so that a run resumes with other values */
} infb_key;

extern const infb_key infb_keys[];
extern const size_t infb_nkeys;

/* The entry for (section, name); section may be a variant "map:strong", looked up under
 * its base "map".  NULL when unknown. */
const infb_key *infb_key_find(const char *section, const char *name);
/* Nonzero when the section (or a variant's base) exists in the table. */
int infb_key_section_known(const char *section);
/* Nonzero when `section` takes variants (the estimator sections and the shared ones). */
int infb_key_section_variants(const char *base);
/* Nonzero for the shared sections ([encoder], [train], [qstar]) whose variant
 * [encoder:NAME] serves every estimator variant named NAME (amortized:NAME, ...). */
int infb_key_section_shared(const char *base);

/* Estimators and the models they apply to. */
typedef struct infb_estimator_info {
  const char *name;     /* "map" */
  const char *models;   /* '|'-separated models it supports: "linreg|logreg" */
  const char *help;     /* one line */
} infb_estimator_info;
extern const infb_estimator_info infb_estimators[];
extern const size_t infb_nestimators;

typedef struct infb_named_info {
  const char *name;
  const char *help;
} infb_named_info;
/* Models and data sources, for `infbench list`. */
extern const infb_named_info infb_models[];
extern const size_t infb_nmodels;
extern const infb_named_info infb_sources[];
extern const size_t infb_nsources;

#endif
