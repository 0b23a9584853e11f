/* The command-line front end: the only code that prints or exits. */
#ifndef INFB_CLI_CLI_H
#define INFB_CLI_CLI_H

/* Exit statuses (infbench(1)). */
enum { EXIT_OK = 0, EXIT_RUNFAIL = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

int infb_cmd_run(int argc, char **argv);
int infb_cmd_check(int argc, char **argv);
int infb_cmd_list(int argc, char **argv);
int infb_cmd_plot(int argc, char **argv);

/* "infbench: " + message on stderr. */
void infb_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
