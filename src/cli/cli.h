/* The command-line front end: the only code that prints or exits. */
#ifndef INFB_CLI_CLI_H
#define INFB_CLI_CLI_H

#include <stddef.h>

/* Exit statuses (infbench(1)). */
enum { EXIT_OK = 0, EXIT_RUNFAIL = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

int infb_cmd_run(int argc, char **argv);
int infb_cmd_check(int argc, char **argv);
int infb_cmd_list(int argc, char **argv);
int infb_cmd_plot(int argc, char **argv);

struct infb_config;
/* Read FILE.ini, apply the --set assignments sets[0..nsets) and resolve.  On a config
 * error print it (FILE:LINE: message) to stderr and return NULL: the caller exits 2. */
struct infb_config *infb_cli_load_config(const char *path, char *const *sets, size_t nsets);

/* Print the comparison table of a results.json document to stdout. */
struct json_t;
void infb_cli_print_report(const struct json_t *results);

/* Render every .gp script of dir with gnuplot ("png", "svg" or "both"); 0 on success,
 * 1 when gnuplot is missing or failed (messages printed). */
int infb_cli_render_dir(const char *dir, const char *format, int quiet);

/* The libraries read their settings from the environment once, when they are loaded, so
 * this sets them by re-executing the program (/proc/self/exe, the same argv) once; call it
 * first in main().  It returns only when nothing is to be done or the re-execution failed
 * (then the process goes on as it is).  Two settings:
 * - OpenBLAS picks its kernels from OPENBLAS_CORETYPE or its own CPU detection, which
 *   falls back to generic SSE3 kernels on CPUs it does not know.  When
 *   infb_blas_choose_coretype (linalg/blas.h) advises a better set for this CPU, OpenBLAS's
 *   choice and the environment, OPENBLAS_CORETYPE is set to it and
 *   INFBENCH_BLAS_CHOSEN_OVER to OpenBLAS's own choice.  The user's own OPENBLAS_CORETYPE
 *   always wins, and INFBENCH_BLAS_CORETYPE=keep turns this off.
 * - OpenMP's threads spin at the end of each parallel region before they sleep; on a
 *   machine where another process is busy, a spinning thread takes the core its partner
 *   needs (VAE training on 2 threads ran 3-20x slower, bench/RESULTS.md).
 *   OMP_WAIT_POLICY is set to infb_cli_wait_policy's answer (and INFBENCH_OMP_WAIT_SET
 *   with it). */
void infb_cli_exec_setup(char **argv);
/* The wait policy infbench sets, a pure function of the environment's OMP_WAIT_POLICY and
 * GOMP_SPINCOUNT (NULL when unset): "passive" when neither is set, else NULL (the user's
 * setting is kept). */
const char *infb_cli_wait_policy(const char *env_policy, const char *env_spincount);
/* One line (no newline): the wait policy in force and who set it. */
void infb_cli_wait_describe(char *buf, size_t size);
/* One line (no newline) into buf: the kernel set in use and who chose it — "X (chosen by
 * infbench over OpenBLAS's Y)", "X (OPENBLAS_CORETYPE=Z)" or "X (OpenBLAS's own choice;
 * infbench's advice: A|none)", A being what infbench would choose without keep. */
void infb_cli_blas_describe(char *buf, size_t size);

/* A rank other than 0 under MPI (par/par.h): compute the groups rank 0 hands out, on
 * the threads of the command line's --threads (default 1), until rank 0 ends the run;
 * returns the exit code rank 0 ended it with. */
int infb_cli_serve(int argc, char **argv);

/* "infbench: " + message on stderr. */
void infb_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
