/* Experiment configuration: INI files (inih) and --set overrides validated against the
 * key table, resolved with every default filled in, printed in a canonical form and
 * hashed (SHA-256).
 *
 * Error messages are written into a caller buffer as "FILE:LINE: message" (a key's line),
 * "FILE: message" (a missing required key or a whole-file problem) or
 * "--set S.K=V: message" (an override), ready for the CLI to print.  When no file was read,
 * whole-config messages start with "--set: ".
 *
 * Value messages are "[SECTION] KEY: reason", SECTION as written (a variant "map:strong"):
 *   '1e' is not a number | is not an integer | is not a boolean (yes or no) | is not finite
 *   'foo' is not one of csv, synthetic            (ENUM)
 *   'x' is not a number or 'evidence'            (DOUBLE_OR)
 *   '1..2' is not a value or a sweep LO..HI/N    (SWEEP with ".." but not LO..HI/N)
 *   sweep 'S' needs LO < HI | needs N >= 2 points | has more than INFB_CONFIG_SWEEP_MAX points
 *   empty value
 *   'a/b' must not contain '/' | '..' is not a usable name   ([experiment] name)
 *   V is out of range (R), V as written and R one of "must be > MIN", "must be >= MIN",
 *   "must be <= MAX", "must be in [MIN, MAX]", "must be in (MIN, MAX]" (bounds "%.15g").
 * Other messages: "unknown section [S]", "section [S] takes no variants", "bad variant name
 * 'V' in [S:V] (use a-z, 0-9, _ and -)", "unknown key 'K' in [S]", "duplicate key 'K' in
 * [S]", "key 'K' is outside any section", "malformed line (expected key = value or
 * [section])", "line too long (at most N characters)", "line contains a NUL byte",
 * "[estimators] run: unknown estimator 'E' (known: mle, map, bayes, laplace, meanfield)",
 * "[estimators] run: estimator 'E' named twice" (or "does not apply to model M", "no
 * section [E] for estimator 'E'"), "section [S] is not named in [estimators] run". */
#ifndef INFB_EXP_CONFIG_H
#define INFB_EXP_CONFIG_H

#include <stddef.h>
#include "core/sha256.h"

typedef struct infb_config infb_config;

/* The most points a sweep LO..HI/N may have. */
#define INFB_CONFIG_SWEEP_MAX 100000
/* The most bytes a configuration file may hold (1 MiB; the committed experiments hold a
 * few KiB).  A longer file, or one that never ends (/dev/zero), is refused after reading
 * one byte more than this. */
#define INFB_CONFIG_MAX_BYTES ((size_t)1 << 20)

/* An empty configuration.  NULL on allocation failure. */
infb_config *infb_config_alloc(void);
/* NULL is a no-op. */
void infb_config_free(infb_config *c);

/* Parse the INI file at path: unknown sections and keys, duplicate keys, malformed lines
 * and values that fail their type or range are errors.  Returns GSL_SUCCESS, or
 * INFB_ECONFIG with msg set (e.g. "exp.ini:7: [map] lambda: '1e' is not a number",
 * "exp.ini:3: unknown key 'lamda' in [map]", "exp.ini: cannot open: No such file or
 * directory", "exp.ini: is larger than 1 MiB (1048576 bytes), the most a configuration
 * file may hold" beyond INFB_CONFIG_MAX_BYTES).  Read one file per config. */
int infb_config_read(infb_config *c, const char *path, char *msg, size_t cap);

/* Parse len bytes of text (not NUL-terminated; NUL bytes are errors) as the contents of
 * the INI file path, exactly as infb_config_read would after reading that file: messages
 * name path, and PATH keys resolve against its directory.  The same limit and statuses
 * (text longer than INFB_CONFIG_MAX_BYTES is refused).  Read one file per config. */
int infb_config_read_text(infb_config *c, const char *path, const char *text, size_t len,
                          char *msg, size_t cap);

/* Apply an override "SECTION.KEY=VALUE" (SECTION may be a variant "map:strong"); the
 * value is validated like a file's.  INFB_ECONFIG with msg on error. */
int infb_config_set(infb_config *c, const char *assignment, char *msg, size_t cap);

/* Check whole-config rules and fill defaults: required keys ("FILE: missing required key
 * 'seed' in [experiment]"), conditional requirements ([data] train when source = csv;
 * target for supervised models), estimators named in [estimators] run are known and apply
 * to [model] type (a variant "map:strong" needs base "map"), a variant section not named
 * in run is an error, [experiment] name defaults to the file's base name without .ini.
 * Returns GSL_SUCCESS or INFB_ECONFIG with msg. */
int infb_config_resolve(infb_config *c, char *msg, size_t cap);

/* Accessors on a resolved config.  section may be a variant ("map:strong"): its own value,
 * else the base section's, else the default.  infb_config_get returns NULL for an unset
 * key without default.  The numeric accessors assume the key has that type: a value that
 * does not parse (a DOUBLE_OR word, a sweep, an unset key) gives NAN (double) or 0 (int,
 * bool). */
const char *infb_config_get(const infb_config *c, const char *section, const char *key);
double infb_config_double(const infb_config *c, const char *section, const char *key);
long infb_config_int(const infb_config *c, const char *section, const char *key);
int infb_config_bool(const infb_config *c, const char *section, const char *key);
/* Nonzero when a DOUBLE_OR key holds its word (e.g. alpha = evidence). */
int infb_config_is_word(const infb_config *c, const char *section, const char *key,
                        const char *word);
/* A SWEEP key as values: one value, or N log-spaced values LO..HI inclusive.  *vals is
 * newly allocated (free()); *n ≥ 1.  GSL_ENOMEM on failure; GSL_EINVAL (raised) when the
 * key is unset or not a value or sweep. */
int infb_config_sweep(const infb_config *c, const char *section, const char *key,
                      double **vals, size_t *n);
/* A PATH key resolved against the INI file's directory (absolute paths unchanged), newly
 * allocated; NULL when unset. */
char *infb_config_path(const infb_config *c, const char *section, const char *key);
/* The line of the file where section.key was set, 0 when it was not set in the file
 * (default or --set); for runtime errors that point at the config. */
int infb_config_line(const infb_config *c, const char *section, const char *key);
/* The path of the INI file read ("" before infb_config_read). */
const char *infb_config_file(const infb_config *c);
/* The estimator entries of [estimators] run, in order ("mle", "map:strong", ...): a
 * NULL-terminated array owned by c. */
char *const *infb_config_estimators(const infb_config *c);

/* The canonical text of the resolved config: sections sorted by name, keys sorted by name
 * within a section, every key of every section that applies (defaults included; variant
 * sections listed with all their keys), values normalised (doubles as the shortest "%.Ng"
 * that reads back exactly, booleans
 * yes/no, lists "a, b", enum words lower case).  Newly allocated (free()); NULL on
 * allocation failure. */
char *infb_config_canonical(const infb_config *c);
/* Marks c as a run's recorded configuration (its config.ini, every key then written out):
 * from now on its canonical text, and so its hash, leaves out the keys the file does not
 * set.  Those are keys added to infbench after the run was recorded; they take their
 * defaults, so a newer infbench resumes the run (infbench run --resume) with the hash it
 * recorded, while an edited value, a removed line or an added non-default key still
 * changes the hash. */
void infb_config_set_recorded(infb_config *c);
/* SHA-256 of the canonical text less the execution settings (infb_key.exec: the thread
 * count), as hex: two runs with the same hash compute the same numbers. */
int infb_config_hash(const infb_config *c, char hex[INFB_SHA256_HEX]);
/* SHA-256 of the whole canonical text, execution settings included: the hash that runs
 * recorded before the execution settings were left out (infbench run --resume accepts
 * a recorded run by either). */
int infb_config_hash_with_exec(const infb_config *c, char hex[INFB_SHA256_HEX]);

/* Which keys a scope reads: nonzero to keep (section is the table's, never a variant's
 * name; a variant section's keys are kept or left with its base's). */
typedef int (*infb_config_keep_fn)(const char *section, const char *key);
/* The hash of the part of the config a stage reads: as infb_config_hash (execution keys
 * left out) over the keys keep accepts, a section with none of them left out entirely. */
int infb_config_hash_scope(const infb_config *c, infb_config_keep_fn keep,
                           char hex[INFB_SHA256_HEX]);

#endif
