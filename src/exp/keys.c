/* The configuration key table (keys.h): every key, its type, default, range and help;
 * documented key by key in infbench.ini(5). */
#include "config.h"
#include "exp/keys.h"

#include <math.h>
#include <string.h>

/* Shorthands for the table: no bound, and the usual numeric shapes. */
#define NOMIN (-INFINITY)
#define NOMAX INFINITY
#define POSITIVE 0.0, NOMAX, 1 /* x > 0 */
#define ANY NOMIN, NOMAX, 0    /* any finite value */
#define NORANGE 0.0, 0.0, 0    /* not numeric */

/* One entry: {section, name, type, default, required, min, max, min_open, choices, help}. */
#define KEY(...) {__VA_ARGS__}

/* The solver controls shared by the estimator sections. */
#define SOLVER(sec)                                                                        \
  KEY(sec, "solver", INFB_KEY_ENUM, "auto", 0, NORANGE, "auto|direct|bfgs|newton",        \
      "optimiser: auto (direct for linreg, newton for logreg), direct, bfgs or newton")
#define TOL(sec, def)                                                                      \
  KEY(sec, "tol", INFB_KEY_DOUBLE, def, 0, POSITIVE, NULL,                                \
      "relative convergence tolerance")
#define MAX_ITER(sec, def)                                                                 \
  KEY(sec, "max_iter", INFB_KEY_INT, def, 0, 1.0, 1e7, 0, NULL,                            \
      "iteration cap (reaching it is reported as stop reason max_iter)")
#define ALPHA_PATH(sec)                                                                    \
  KEY(sec, "alpha_path", INFB_KEY_SWEEP, "1e-4..1e4/41", 0, POSITIVE, NULL,               \
      "grid of prior precisions for the log-evidence-against-alpha curve")

const infb_key infb_keys[] = {
    /* [experiment] */
    KEY("experiment", "name", INFB_KEY_STRING, NULL, 0, NORANGE, NULL,
        "experiment name (default: the INI file's base name without .ini)"),
    KEY("experiment", "seed", INFB_KEY_INT, NULL, 1, 0.0, NOMAX, 0, NULL,
        "master random seed (required)"),
    KEY("experiment", "threads", INFB_KEY_INT, "1", 0, 1.0, 64.0, 0, NULL,
        "BLAS threads"),
    KEY("experiment", "description", INFB_KEY_STRING, "", 0, NORANGE, NULL,
        "one line describing the experiment"),

    /* [data] */
    KEY("data", "source", INFB_KEY_ENUM, "csv", 0, NORANGE, "csv|synthetic",
        "where the data come from: csv files or the synthetic generator"),
    KEY("data", "train", INFB_KEY_PATH, NULL, 0, NORANGE, NULL,
        "training CSV file (required when source = csv)"),
    KEY("data", "test", INFB_KEY_PATH, NULL, 0, NORANGE, NULL,
        "test CSV file (default: split test_fraction off the training file)"),
    KEY("data", "target", INFB_KEY_STRING, NULL, 0, NORANGE, NULL,
        "name of the target column (required when source = csv)"),
    KEY("data", "features", INFB_KEY_LIST, "", 0, NORANGE, NULL,
        "feature columns (default: every column but the target)"),
    KEY("data", "test_fraction", INFB_KEY_DOUBLE, "0.2", 0, 0.0, 0.9, 0, NULL,
        "fraction of the rows held out for testing when there is no test file"),
    KEY("data", "standardize", INFB_KEY_BOOL, "no", 0, NORANGE, NULL,
        "standardise the features (results are reported in original units)"),
    KEY("data", "n", INFB_KEY_INT, "200", 0, 2.0, 1e7, 0, NULL,
        "synthetic: number of rows"),
    KEY("data", "dim", INFB_KEY_INT, "1", 0, 1.0, 1e4, 0, NULL,
        "synthetic: number of features"),
    KEY("data", "noise", INFB_KEY_DOUBLE, "0.5", 0, POSITIVE, NULL,
        "synthetic: noise standard deviation (linreg)"),
    KEY("data", "weight_scale", INFB_KEY_DOUBLE, "1", 0, POSITIVE, NULL,
        "synthetic: standard deviation of the true weights"),
    KEY("data", "bias", INFB_KEY_DOUBLE, "0", 0, ANY, NULL,
        "synthetic: true intercept"),

    /* [model] */
    KEY("model", "type", INFB_KEY_ENUM, "linreg", 0, NORANGE, "linreg|logreg",
        "the model: linreg or logreg"),
    KEY("model", "intercept", INFB_KEY_BOOL, "yes", 0, NORANGE, NULL,
        "fit an intercept"),
    KEY("model", "intercept_prior", INFB_KEY_ENUM, "flat", 0, NORANGE, "flat|same",
        "the intercept's prior: flat (unpenalised) or same as the weights"),
    KEY("model", "noise", INFB_KEY_DOUBLE_OR, "estimate", 0, POSITIVE, "estimate",
        "linreg: noise variance sigma^2, or estimate"),

    /* [estimators] */
    KEY("estimators", "run", INFB_KEY_LIST, "mle, map", 0, NORANGE, NULL,
        "the estimators to run, in order (variants as map:NAME)"),

    /* [mle] */
    SOLVER("mle"),
    TOL("mle", "1e-10"),
    MAX_ITER("mle", "500"),

    /* [map] */
    KEY("map", "lambda", INFB_KEY_SWEEP, "1", 0, POSITIVE, NULL,
        "penalty: a value, or a log sweep LO..HI/N chosen by cross-validation"),
    KEY("map", "folds", INFB_KEY_INT, "5", 0, 2.0, 100.0, 0, NULL,
        "cross-validation folds when lambda is a sweep"),
    SOLVER("map"),
    TOL("map", "1e-10"),
    MAX_ITER("map", "500"),

    /* [bayes] */
    KEY("bayes", "alpha", INFB_KEY_DOUBLE_OR, "evidence", 0, POSITIVE, "evidence",
        "prior precision, or evidence to maximise the evidence"),
    KEY("bayes", "beta", INFB_KEY_DOUBLE_OR, "evidence", 0, POSITIVE, "evidence",
        "noise precision, or evidence to maximise the evidence"),
    TOL("bayes", "1e-10"),
    MAX_ITER("bayes", "1000"),
    ALPHA_PATH("bayes"),

    /* [laplace] */
    KEY("laplace", "alpha", INFB_KEY_DOUBLE_OR, "1", 0, POSITIVE, "evidence",
        "prior precision, or evidence to maximise the approximate evidence"),
    TOL("laplace", "1e-10"),
    MAX_ITER("laplace", "500"),
    SOLVER("laplace"),
    ALPHA_PATH("laplace"),

    /* [meanfield] */
    TOL("meanfield", "1e-12"),
    MAX_ITER("meanfield", "100000"),

    /* [plot] */
    KEY("plot", "grid", INFB_KEY_INT, "200", 0, 10.0, 1e5, 0, NULL,
        "points of the predictive curve for 1-D inputs"),
    KEY("plot", "band", INFB_KEY_DOUBLE, "2", 0, POSITIVE, NULL,
        "half-width of the predictive band in standard deviations"),
};
const size_t infb_nkeys = sizeof infb_keys / sizeof infb_keys[0];

const infb_estimator_info infb_estimators[] = {
    {"mle", "linreg|logreg", "maximum likelihood"},
    {"map", "linreg|logreg",
     "maximum a posteriori (ridge / L2-penalised), lambda by value or CV"},
    {"bayes", "linreg", "exact Gaussian posterior and evidence, alpha and beta by evidence"},
    {"laplace", "logreg", "Laplace approximation of the posterior and evidence"},
    {"meanfield", "linreg", "fully factorised Gaussian variational posterior and its gap"},
};
const size_t infb_nestimators = sizeof infb_estimators / sizeof infb_estimators[0];

const infb_named_info infb_models[] = {
    {"linreg", "linear regression with Gaussian noise"},
    {"logreg", "logistic regression (binary 0/1 targets)"},
};
const size_t infb_nmodels = sizeof infb_models / sizeof infb_models[0];

const infb_named_info infb_sources[] = {
    {"csv", "CSV files with a header row ([data] train, test, target, features)"},
    {"synthetic", "data drawn from the model with random true weights ([data] n, dim, ...)"},
};
const size_t infb_nsources = sizeof infb_sources / sizeof infb_sources[0];

/* Length of the base of a section name: up to the ':' of a variant. */
static size_t
base_len(const char *section)
{
  const char *colon = strchr(section, ':');
  return colon ? (size_t)(colon - section) : strlen(section);
}

static int
base_is(const char *table_section, const char *section, size_t len)
{
  return strlen(table_section) == len && strncmp(table_section, section, len) == 0;
}

int
infb_key_section_variants(const char *base)
{
  for (size_t i = 0; i < infb_nestimators; i++)
    if (strcmp(infb_estimators[i].name, base) == 0)
      return 1;
  return 0;
}

const infb_key *
infb_key_find(const char *section, const char *name)
{
  size_t len = base_len(section);
  if (section[len] == ':') {
    /* a variant: only of a section that takes them */
    char base[64];
    if (len >= sizeof base)
      return NULL;
    memcpy(base, section, len);
    base[len] = '\0';
    if (!infb_key_section_variants(base))
      return NULL;
  }
  for (size_t i = 0; i < infb_nkeys; i++)
    if (base_is(infb_keys[i].section, section, len) && strcmp(infb_keys[i].name, name) == 0)
      return &infb_keys[i];
  return NULL;
}

int
infb_key_section_known(const char *section)
{
  size_t len = base_len(section);
  for (size_t i = 0; i < infb_nkeys; i++)
    if (base_is(infb_keys[i].section, section, len))
      return 1;
  return 0;
}
