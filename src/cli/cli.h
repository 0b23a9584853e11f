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

/* OpenBLAS picks its kernels when it is loaded, from OPENBLAS_CORETYPE or its own CPU
 * detection, which falls back to generic SSE3 kernels on CPUs it does not know.  When
 * infb_blas_choose_coretype (linalg/blas.h) advises a better set for this CPU, OpenBLAS's
 * choice and the environment, this re-executes the program (/proc/self/exe, the same
 * argv) once with OPENBLAS_CORETYPE set to it and INFBENCH_BLAS_CHOSEN_OVER to OpenBLAS's
 * own choice; call it first in main().  The user's own OPENBLAS_CORETYPE always wins, and
 * INFBENCH_BLAS_CORETYPE=keep turns this off.  Returns only when nothing is to be done or
 * the re-execution failed (then the process goes on with OpenBLAS's choice). */
void infb_cli_blas_kernels(char **argv);
/* One line (no newline) into buf: the kernel set in use and who chose it — "X (chosen by
 * infbench over OpenBLAS's Y)", "X (OPENBLAS_CORETYPE=Z)" or "X (OpenBLAS's own choice;
 * infbench's advice: A|none)", A being what infbench would choose without keep. */
void infb_cli_blas_describe(char *buf, size_t size);

/* "infbench: " + message on stderr. */
void infb_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
