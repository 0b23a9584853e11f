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
#define KEY(...) {__VA_ARGS__, 0}
/* An execution setting: how to run, never what is computed, so not hashed. */
#define EXEC_KEY(...) {__VA_ARGS__, 1}

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
    KEY("experiment", "parallel", INFB_KEY_ENUM, "split", 0, NORANGE, "split|blas",
        "how a vae run uses its threads: split each pass into [experiment] parts that the "
        "threads run, each gemm single-threaded (split: bit-identical on any thread count), "
        "or leave them to OpenBLAS (blas: results differ between thread counts by rounding)"),
    KEY("experiment", "seed", INFB_KEY_INT, NULL, 1, 0.0, NOMAX, 0, NULL,
        "master random seed (required)"),
    EXEC_KEY("experiment", "threads", INFB_KEY_INT, "1", 0, 1.0, 64.0, 0, NULL,
             "threads (the default of run --threads; an execution setting, not hashed): "
             "they run a VAE's parts and q*'s per-point work (parallel = split), or "
             "OpenBLAS's gemms (parallel = blas); results do not depend on them"),
    EXEC_KEY("experiment", "group_timeout", INFB_KEY_INT, "600", 0, 1.0, 1e7, 0, NULL,
             "under MPI: the shortest wait in seconds for a rank's group of points (the wait "
             "is also at least 4 times the slowest group so far); a rank that does not answer "
             "in time stops the run, naming it (an execution setting, not hashed)"),
    KEY("experiment", "parts", INFB_KEY_INT, "2", 0, 1.0, 64.0, 0, NULL,
        "parts every VAE pass and q*'s points are cut into, whatever the threads: the most "
        "threads a VAE run can use (parallel = split); results depend on it, "
        "never on threads"),
    KEY("experiment", "gemm_blocking", INFB_KEY_ENUM, "auto", 0, NORANGE, "auto|on|off",
        "run small single-threaded sgemms in column and depth blocks for OpenBLAS's "
        "unpacked small-matrix kernels: auto (on for its AVX-512 kernel sets), on, off"),
    KEY("experiment", "gemm_block_cols", INFB_KEY_INT, "32", 0, 1.0, 1e6, 0, NULL,
        "columns of C per block when gemm blocking is on"),
    KEY("experiment", "gemm_block_depth", INFB_KEY_INT, "128", 0, 1.0, 1e6, 0, NULL,
        "depth (inner dimension) per block when gemm blocking is on"),
    KEY("experiment", "description", INFB_KEY_STRING, "", 0, NORANGE, NULL,
        "one line describing the experiment"),

    /* [data] */
    KEY("data", "source", INFB_KEY_ENUM, "csv", 0, NORANGE, "csv|synthetic|idx",
        "where the data come from: csv files, the synthetic generator, or IDX images"),
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
        "synthetic: true intercept (linreg, logreg); sd of the true offsets b (lingauss)"),
    KEY("data", "train_labels", INFB_KEY_PATH, NULL, 0, NORANGE, NULL,
        "idx: labels of the training images (default: Debian's Fashion-MNIST)"),
    KEY("data", "test_labels", INFB_KEY_PATH, NULL, 0, NORANGE, NULL,
        "idx: labels of the test images (default: Debian's Fashion-MNIST)"),
    KEY("data", "class_names", INFB_KEY_LIST,
        "T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot",
        0, NORANGE, NULL,
        "idx: names of the classes 0, 1, ... of the labels (the latent-space legend)"),
    KEY("data", "binarize", INFB_KEY_ENUM, "static", 0, NORANGE, "static|dynamic|none",
        "idx: pixels/255 thresholded once, resampled every epoch, or kept grey"),
    KEY("data", "threshold", INFB_KEY_DOUBLE, "0.5", 0, 0.0, 1.0, 0, NULL,
        "idx: static binarisation threshold on pixel/255"),
    KEY("data", "n_train", INFB_KEY_INT, "0", 0, 0.0, 1e7, 0, NULL,
        "idx: use the first N training images (0: all but the validation images)"),
    KEY("data", "n_valid", INFB_KEY_INT, "5000", 0, 0.0, 1e7, 0, NULL,
        "idx: the last N images of the training file are the validation set"),
    KEY("data", "psi_min", INFB_KEY_DOUBLE, "0.1", 0, POSITIVE, NULL,
        "synthetic lingauss: smallest true noise variance"),
    KEY("data", "psi_max", INFB_KEY_DOUBLE, "1", 0, POSITIVE, NULL,
        "synthetic lingauss: largest true noise variance"),

    /* [model] */
    KEY("model", "type", INFB_KEY_ENUM, "linreg", 0, NORANGE, "linreg|logreg|lingauss|vae",
        "the model: linreg, logreg, lingauss or vae"),
    KEY("model", "latent", INFB_KEY_INT, "2", 0, 1.0, 1e4, 0, NULL,
        "lingauss: latent dimension K (1 <= K < D)"),
    KEY("model", "decoder_hidden", INFB_KEY_LIST, "200, 200", 0, NORANGE, NULL,
        "vae: hidden layer widths of the decoder"),
    KEY("model", "activation", INFB_KEY_ENUM, "elu", 0, NORANGE, "elu|tanh|relu|softplus",
        "vae: hidden activation of the encoder and the decoder"),
    KEY("model", "ppca", INFB_KEY_BOOL, "no", 0, NORANGE, NULL,
        "lingauss: isotropic noise Psi = sigma^2 I (probabilistic PCA)"),
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
    KEY("mle", "psi_floor", INFB_KEY_DOUBLE, "1e-6", 0, POSITIVE, NULL,
        "lingauss: smallest noise variance EM may reach (raised to it and reported)"),
    KEY("mle", "init_scale", INFB_KEY_DOUBLE, "0.1", 0, POSITIVE, NULL,
        "lingauss: standard deviation of the random initial loadings W"),

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
    KEY("meanfield", "local", INFB_KEY_ENUM, "closed", 0, NORANGE, "closed|adam",
        "lingauss: per-sample step, closed-form coordinate ascent or Adam ([qstar] keys)"),
    KEY("meanfield", "global", INFB_KEY_ENUM, "closed", 0, NORANGE, "closed|gradient",
        "lingauss: step on W, b, Psi: closed form or a gradient step ([train] lr)"),
    KEY("meanfield", "psi_floor", INFB_KEY_DOUBLE, "1e-6", 0, POSITIVE, NULL,
        "lingauss: smallest noise variance the global step may reach"),
    KEY("meanfield", "local_steps", INFB_KEY_INT, "5", 0, 1.0, 1e6, 0, NULL,
        "vae: Adam steps on each minibatch's q(z_i) per decoder step"),
    KEY("meanfield", "local_lr", INFB_KEY_DOUBLE, "0.1", 0, POSITIVE, NULL,
        "vae: Adam learning rate of the per-point q(z_i)"),

    /* [amortized]: an encoder q(z|x) trained jointly with the model */
    TOL("amortized", "1e-10"),
    KEY("amortized", "weight_decay", INFB_KEY_DOUBLE, "0", 0, 0.0, NOMAX, 0, NULL,
        "Gaussian prior precision on W (coupled L2: lambda ||W||^2 / (2N) per example)"),

    /* [autoencoder]: deterministic encoder and decoder, squared error */
    TOL("autoencoder", "1e-10"),

    /* [encoder] (variants [encoder:NAME] serve the estimator variants named NAME) */
    KEY("encoder", "type", INFB_KEY_ENUM, "linear", 0, NORANGE, "linear|mlp",
        "encoder network: linear map or multilayer perceptron"),
    KEY("encoder", "hidden", INFB_KEY_LIST, "50", 0, NORANGE, NULL,
        "mlp: hidden layer widths, e.g. 200, 200"),
    KEY("encoder", "activation", INFB_KEY_ENUM, "tanh", 0, NORANGE, "tanh|relu|elu|softplus",
        "mlp: hidden activation"),

    /* [train] (variants [train:NAME] serve the estimator variants named NAME) */
    KEY("train", "epochs", INFB_KEY_INT, "200", 0, 1.0, 1e7, 0, NULL,
        "passes over the training data"),
    KEY("train", "batch", INFB_KEY_INT, "100", 0, 1.0, 1e6, 0, NULL,
        "minibatch size"),
    KEY("train", "lr", INFB_KEY_DOUBLE, "1e-3", 0, POSITIVE, NULL,
        "Adam learning rate"),
    KEY("train", "lr_decay", INFB_KEY_DOUBLE, "1", 0, 0.0, 1.0, 1, NULL,
        "learning rate multiplied by this after every epoch"),
    KEY("train", "samples", INFB_KEY_INT, "1", 0, 1.0, 1e5, 0, NULL,
        "reparameterised samples per point per step"),
    KEY("train", "schedule", INFB_KEY_ENUM, "constant", 0, NORANGE, "constant|iwae",
        "vae: learning rate constant, or the IWAE schedule lr 10^(-i/7) for 3^i epochs"),
    KEY("train", "warmup_epochs", INFB_KEY_INT, "0", 0, 0.0, 1e7, 0, NULL,
        "vae: entropy warm-up, beta = min(1, epoch/warmup_epochs); 0: none"),
    KEY("train", "checkpoint", INFB_KEY_PATH, NULL, 0, NORANGE, NULL,
        "vae: evaluate this saved model instead of training"),
    KEY("train", "nonfinite", INFB_KEY_ENUM, "abort", 0, NORANGE, "abort|skip|halve",
        "vae: on a non-finite loss abort, skip the step, or halve the learning rate"),
    KEY("train", "beta1", INFB_KEY_DOUBLE, "0.9", 0, 0.0, 1.0, 0, NULL,
        "Adam first-moment decay"),
    KEY("train", "beta2", INFB_KEY_DOUBLE, "0.999", 0, 0.0, 1.0, 0, NULL,
        "Adam second-moment decay"),
    KEY("train", "eps", INFB_KEY_DOUBLE, "1e-8", 0, POSITIVE, NULL,
        "Adam epsilon"),

    /* [qstar]: the numeric per-point optimum of the evaluation */
    KEY("qstar", "init", INFB_KEY_ENUM, "prior", 0, NORANGE, "prior|encoder",
        "start of each point's optimisation: the prior N(0, I) or the encoder's q"),
    KEY("qstar", "samples", INFB_KEY_INT, "50", 0, 1.0, 1e5, 0, NULL,
        "reparameterised samples per point per step"),
    KEY("qstar", "lr", INFB_KEY_DOUBLE, "1e-3", 0, POSITIVE, NULL,
        "Adam learning rate"),
    KEY("qstar", "max_steps", INFB_KEY_INT, "100000", 0, 1.0, 1e9, 0, NULL,
        "step cap per point"),
    KEY("qstar", "check_every", INFB_KEY_INT, "100", 0, 1.0, 1e7, 0, NULL,
        "steps between stopping checks"),
    KEY("qstar", "patience", INFB_KEY_INT, "10", 0, 0.0, 1e6, 0, NULL,
        "stop after more than this many checks without improvement"),
    KEY("qstar", "eval_samples", INFB_KEY_INT, "5000", 0, 1.0, 1e7, 0, NULL,
        "fresh samples for the final ELBO estimate"),
    KEY("qstar", "batch_points", INFB_KEY_INT, "100", 0, 1.0, 1e6, 0, NULL,
        "points optimised together"),

    /* [evaluate]: the gap report */
    KEY("evaluate", "split", INFB_KEY_ENUM, "both", 0, NORANGE, "train|test|both",
        "which points the gaps are measured on"),
    KEY("evaluate", "points", INFB_KEY_INT, "1000", 0, 1.0, 1e7, 0, NULL,
        "the first N points of each split"),
    KEY("evaluate", "samples", INFB_KEY_INT, "5000", 0, 1.0, 1e7, 0, NULL,
        "Monte-Carlo samples per point for the encoder's ELBO"),
    KEY("evaluate", "iwae_k", INFB_KEY_INT, "5000", 0, 1.0, 1e8, 0, NULL,
        "vae: importance samples of the IWAE estimate of ln p(x)"),
    KEY("evaluate", "numeric_qstar", INFB_KEY_BOOL, "yes", 0, NORANGE, NULL,
        "also find q* numerically (the VAE's code path) beside its closed form"),
    KEY("evaluate", "iwae_curve_k", INFB_KEY_LIST, "1, 10, 100, 1000, 5000", 0, NORANGE, NULL,
        "vae: the k of the IWAE-against-k figure, increasing (empty: no figure)"),
    KEY("evaluate", "group_points", INFB_KEY_INT, "0", 0, 0.0, 1e7, 0, NULL,
        "points per group of the gap report's L[q], q*, IWAE and quadrature, rounded up to a "
        "multiple of [qstar] batch_points: the unit of its checkpoints and of the work MPI "
        "hands out; results depend on it (q*'s batches are a group's points), never on "
        "the ranks or threads (0: points / 20)"),
    KEY("evaluate", "iwae_curve_points", INFB_KEY_INT, "100", 0, 0.0, 1e7, 0, NULL,
        "vae: the IWAE-against-k figure uses the first N of the evaluated points (0: none)"),
    KEY("evaluate", "quadrature_box", INFB_KEY_DOUBLE, "6", 0, 0.0, 1e3, 1, NULL,
        "vae, K = 2: the quadrature's starting box [-L, L]^2 (doubled while it matters)"),
    KEY("evaluate", "quadrature_grid", INFB_KEY_INT, "64", 0, 2.0, 1e5, 0, NULL,
        "vae, K = 2: the quadrature's starting cells per axis"),
    KEY("evaluate", "quadrature_tol", INFB_KEY_DOUBLE, "1e-3", 0, POSITIVE, NULL,
        "vae, K = 2: box and grid stop doubling when ln p(x) moves by less (nats)"),
    KEY("evaluate", "quadrature_max_grid", INFB_KEY_INT, "1024", 0, 2.0, 1e5, 0, NULL,
        "vae, K = 2: the most cells per axis"),

    /* [ais]: annealed importance sampling of ln p(x) (MATH.md §7); present: run */
    KEY("ais", "run", INFB_KEY_BOOL, "no", 0, NORANGE, NULL,
        "vae: run AIS in every gap report (yes whenever the section [ais] is given)"),
    KEY("ais", "chains", INFB_KEY_INT, "100", 0, 1.0, 1e6, 0, NULL,
        "chains per point"),
    KEY("ais", "temperatures", INFB_KEY_INT, "10000", 0, 2.0, 1e8, 0, NULL,
        "intermediate distributions T (one HMC move each)"),
    KEY("ais", "leapfrog", INFB_KEY_INT, "10", 0, 1.0, 1e4, 0, NULL,
        "leapfrog steps per HMC move"),
    KEY("ais", "schedule", INFB_KEY_ENUM, "linear", 0, NORANGE, "linear|sigmoid",
        "inverse temperatures: linear t/T, or sigmoid (rescaled)"),
    KEY("ais", "sigmoid_delta", INFB_KEY_DOUBLE, "4", 0, POSITIVE, NULL,
        "the sigmoid schedule's delta"),
    KEY("ais", "step_size", INFB_KEY_DOUBLE, "0.01", 0, POSITIVE, NULL,
        "leapfrog step: the start of the adaptation, or the fixed step (within the clamp)"),
    KEY("ais", "adapt", INFB_KEY_ENUM, "pilot", 0, NORANGE, "pilot|online|fixed",
        "step sizes: pilot chains set a frozen schedule (valid), online per chain "
        "(the authors' code; approximate), or fixed"),
    KEY("ais", "pilot_chains", INFB_KEY_INT, "10", 0, 1.0, 1e6, 0, NULL,
        "adapt = pilot: chains per point that set the step-size schedule"),
    KEY("ais", "adapt_up", INFB_KEY_DOUBLE, "1.02", 0, 1.0, 10.0, 0, NULL,
        "step factor when the acceptance rate is above the target"),
    KEY("ais", "adapt_down", INFB_KEY_DOUBLE, "0.98", 0, 0.0, 1.0, 1, NULL,
        "step factor when it is not"),
    KEY("ais", "target_accept", INFB_KEY_DOUBLE, "0.65", 0, 0.0, 1.0, 1, NULL,
        "the adaptation's target acceptance rate"),
    KEY("ais", "step_min", INFB_KEY_DOUBLE, "1e-4", 0, POSITIVE, NULL,
        "the smallest step the adaptation takes"),
    KEY("ais", "step_max", INFB_KEY_DOUBLE, "0.5", 0, POSITIVE, NULL,
        "the largest step the adaptation takes"),
    KEY("ais", "grad_clip", INFB_KEY_DOUBLE, "1e4", 0, 0.0, NOMAX, 0, NULL,
        "clip each gradient entry of ln p(x|z) to +-this (0: no clip)"),
    KEY("ais", "init", INFB_KEY_ENUM, "prior", 0, NORANGE, "prior|encoder",
        "chains start from the prior, or from the encoder's q (annealing from q)"),
    KEY("ais", "points", INFB_KEY_INT, "0", 0, 0.0, 1e7, 0, NULL,
        "AIS on the first N evaluated points of each split (0: all of them)"),
    KEY("ais", "tile_points", INFB_KEY_INT, "8", 0, 1.0, 4096.0, 0, NULL,
        "points whose chains share each decoder call, each at rows fixed by its index "
        "(speed; results depend on it, not on threads)"),
    KEY("ais", "ess_min", INFB_KEY_DOUBLE, "10", 0, 0.0, NOMAX, 0, NULL,
        "flag a point whose chains' effective sample size is below this"),
    KEY("ais", "trace_points", INFB_KEY_INT, "4", 0, 0.0, 1e4, 0, NULL,
        "the first N points whose ln w and acceptance against temperature are recorded"),
    KEY("ais", "trace_rows", INFB_KEY_INT, "500", 0, 2.0, 1e6, 0, NULL,
        "at most this many temperatures per recorded point"),

    /* [bdmc]: the BDMC sandwich on data simulated from the model (MATH.md §8) */
    KEY("bdmc", "run", INFB_KEY_BOOL, "no", 0, NORANGE, NULL,
        "vae: run BDMC with the [ais] settings (yes whenever the section [bdmc] is given)"),
    KEY("bdmc", "points", INFB_KEY_INT, "50", 0, 1.0, 1e6, 0, NULL,
        "points simulated from the trained model"),
    KEY("bdmc", "temperatures", INFB_KEY_LIST, "100, 1000, 10000", 0, NORANGE, NULL,
        "the temperatures of each forward and reverse AIS, increasing"),

    /* [plot] */
    KEY("plot", "grid", INFB_KEY_INT, "200", 0, 10.0, 1e5, 0, NULL,
        "points of the predictive curve for 1-D inputs"),
    KEY("plot", "band", INFB_KEY_DOUBLE, "2", 0, POSITIVE, NULL,
        "half-width of the predictive band in standard deviations"),
    KEY("plot", "reconstructions", INFB_KEY_INT, "20", 0, 0.0, 1e4, 0, NULL,
        "vae: images drawn above their reconstructions (0: no figure)"),
    KEY("plot", "prior_samples", INFB_KEY_INT, "50", 0, 0.0, 1e4, 0, NULL,
        "vae: samples from the prior drawn through the decoder (0: no figure)"),
    KEY("plot", "image_columns", INFB_KEY_INT, "10", 0, 1.0, 1e3, 0, NULL,
        "vae: images per row of the image grids"),
    KEY("plot", "latent_points", INFB_KEY_INT, "1000", 0, 0.0, 1e7, 0, NULL,
        "vae, K = 2: images whose encoder means are drawn, coloured by class (0: none)"),
    KEY("plot", "posterior_images", INFB_KEY_INT, "4", 0, 0.0, 12.0, 0, NULL,
        "vae, K = 2: images whose exact posterior, q* and q are drawn (0: none)"),
    KEY("plot", "posterior_grid", INFB_KEY_INT, "80", 0, 10.0, 2000.0, 0, NULL,
        "vae, K = 2: cells per axis of the exact posterior's grid"),
    KEY("plot", "posterior_range", INFB_KEY_DOUBLE, "6", 0, POSITIVE, NULL,
        "vae, K = 2: half-width of the first grid, over the prior, that locates the posterior"),
    KEY("plot", "posterior_span", INFB_KEY_DOUBLE, "4", 0, POSITIVE, NULL,
        "vae, K = 2: the drawn window spans the posterior mean +- this many posterior sd"),
};
const size_t infb_nkeys = sizeof infb_keys / sizeof infb_keys[0];

const infb_estimator_info infb_estimators[] = {
    {"mle", "linreg|logreg|lingauss", "maximum likelihood (lingauss: EM, or the PPCA closed form)"},
    {"map", "linreg|logreg|lingauss|vae",
     "maximum a posteriori (ridge / L2-penalised), lambda by value or CV"},
    {"bayes", "linreg", "exact Gaussian posterior and evidence, alpha and beta by evidence"},
    {"laplace", "logreg", "Laplace approximation of the posterior and evidence"},
    {"meanfield", "linreg|lingauss|vae",
     "fully factorised Gaussian variational posterior (lingauss, vae: per-sample, variational "
     "EM, no encoder)"},
    {"amortized", "lingauss|vae", "an encoder q(z|x) trained jointly with the model (a VAE)"},
    {"autoencoder", "lingauss", "deterministic encoder and decoder, squared error"},
};
const size_t infb_nestimators = sizeof infb_estimators / sizeof infb_estimators[0];

const infb_named_info infb_models[] = {
    {"linreg", "linear regression with Gaussian noise"},
    {"logreg", "logistic regression (binary 0/1 targets)"},
    {"lingauss", "linear-Gaussian latent model: factor analysis, or PPCA"},
    {"vae", "variational autoencoder with a Bernoulli decoder, for binarised images"},
};
const size_t infb_nmodels = sizeof infb_models / sizeof infb_models[0];

const infb_named_info infb_sources[] = {
    {"csv", "CSV files with a header row ([data] train, test, target, features)"},
    {"synthetic", "data drawn from the model with random true weights ([data] n, dim, ...)"},
    {"idx", "IDX image files, plain or gzipped (default: Debian's Fashion-MNIST)"},
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
  return infb_key_section_shared(base);
}

int
infb_key_section_shared(const char *base)
{
  static const char *const shared[] = {"encoder", "train", "qstar"};
  for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
    if (strcmp(shared[i], base) == 0)
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
