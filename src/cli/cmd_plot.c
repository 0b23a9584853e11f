/* infbench plot: render a run directory's gnuplot scripts to PNG and/or SVG, running
 * gnuplot once per script and format in that directory and renaming each figure into
 * place only when gnuplot succeeded. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The terminals, as documented in infbench(1): one figure size for both formats. */
typedef struct plot_format {
  const char *name;     /* --format word, and the figure's extension */
  const char *terminal; /* gnuplot `set terminal` arguments */
} plot_format;

static const plot_format formats[] = {
    {"png", "pngcairo size 960,640 enhanced font 'Sans,11'"},
    {"svg", "svg size 960,640 dynamic enhanced font 'Sans,11' background rgb 'white'"},
};
enum { NFORMATS = sizeof formats / sizeof formats[0] };

static const char style_script[] = "infbench-style.gp";

static const char usage_text[] =
    "usage: infbench plot DIR [--format png|svg|both] [--quiet]\n"
    "\n"
    "Render every gnuplot script DIR/*.gp (except the shared infbench-style.gp), in\n"
    "name order, to DIR/NAME.png and/or DIR/NAME.svg.  gnuplot runs in DIR and is found\n"
    "on PATH, or named by the GNUPLOT environment variable.\n"
    "\n"
    "  --format FMT       png, svg, or both (the default)\n"
    "  -q, --quiet        print nothing but errors\n"
    "  -h, --help         print this help\n"
    "\n"
    "Exit status: 0 every figure written, 1 gnuplot missing or failed or no scripts in\n"
    "DIR, 2 usage error or DIR not a directory, 130 interrupted.\n";

/* ---------------------------------------------------------------- interruption */

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
  got_signal = sig;
}

/* Catch SIGINT and SIGTERM while rendering (unless they are ignored), so an interrupted
 * render removes its temporary file; the previous actions are saved in old[]. */
static void
catch_signals(struct sigaction old[2])
{
  static const int sigs[2] = {SIGINT, SIGTERM};
  got_signal = 0;
  for (int i = 0; i < 2; i++) {
    sigaction(sigs[i], NULL, &old[i]);
    if (old[i].sa_handler == SIG_IGN)
      continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sigs[i], &sa, NULL);
  }
}

/* Restore the saved actions; when a signal arrived and the caller had its own handler
 * (infbench run's), pass the signal on to it. */
static void
restore_signals(const struct sigaction old[2])
{
  static const int sigs[2] = {SIGINT, SIGTERM};
  for (int i = 0; i < 2; i++) {
    if (old[i].sa_handler == SIG_IGN)
      continue;
    sigaction(sigs[i], &old[i], NULL);
    if (got_signal == sigs[i] && !(old[i].sa_flags & SA_SIGINFO) &&
        old[i].sa_handler != SIG_DFL)
      old[i].sa_handler(sigs[i]);
  }
}

/* ---------------------------------------------------------------- helpers */

/* "A/B" (or "A/B.C"), newly allocated; NULL when out of memory. */
static char *
join(const char *a, const char *b, const char *c)
{
  size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s%s", a, b, c ? c : "");
  return p;
}

/* The gnuplot executable: $GNUPLOT when set and non-empty, else "gnuplot"; found as a
 * path (when it contains '/') or on PATH.  Writes the program to exec into prog (a name
 * execvp resolves the same way).  Returns nonzero when it was found. */
static int
find_gnuplot(const char **prog)
{
  const char *g = getenv("GNUPLOT");
  if (!g || !*g)
    g = "gnuplot";
  *prog = g;
  if (strchr(g, '/'))
    return access(g, X_OK) == 0;
  const char *path = getenv("PATH");
  if (!path || !*path)
    path = "/usr/bin:/bin";
  size_t cap = strlen(path) + strlen(g) + 3;
  char *buf = malloc(cap);
  if (!buf)
    return 1; /* let execvp search */
  int found = 0;
  for (const char *p = path; !found;) {
    const char *e = strchr(p, ':');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    /* An empty PATH entry means the current directory. */
    snprintf(buf, cap, "%.*s/%s", (int)(len ? len : 1), len ? p : ".", g);
    struct stat st;
    found = stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0;
    if (!e)
      break;
    p = e + 1;
  }
  free(buf);
  return found;
}

static int
cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The scripts of dir: *.gp except the style and hidden files, regular files only,
 * sorted by byte order (independent of the locale).  *names is a newly allocated array
 * of newly allocated strings.  Returns 0, or -1 with a message printed. */
static int
list_scripts(const char *dir, char ***names, size_t *n)
{
  *names = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) {
    infb_cli_error("plot: cannot read %s: %s", dir, strerror(errno));
    return -1;
  }
  size_t cap = 0;
  char **v = NULL;
  struct dirent *de;
  int bad = 0;
  while ((de = readdir(d)) != NULL) {
    const char *nm = de->d_name;
    size_t len = strlen(nm);
    if (nm[0] == '.' || len <= 3 || strcmp(nm + len - 3, ".gp") != 0 ||
        strcmp(nm, style_script) == 0)
      continue;
    char *full = join(dir, nm, NULL);
    struct stat st;
    int regular = full && stat(full, &st) == 0 && S_ISREG(st.st_mode);
    free(full);
    if (!regular)
      continue;
    if (*n == cap) {
      size_t nc = cap ? 2 * cap : 16;
      char **nv = realloc(v, nc * sizeof *nv);
      if (!nv) {
        bad = 1;
        break;
      }
      v = nv;
      cap = nc;
    }
    if (!(v[*n] = strdup(nm))) {
      bad = 1;
      break;
    }
    (*n)++;
  }
  closedir(d);
  if (bad) {
    for (size_t i = 0; i < *n; i++)
      free(v[i]);
    free(v);
    *n = 0;
    infb_cli_error("out of memory");
    return -1;
  }
  if (*n)
    qsort(v, *n, sizeof *v, cmp_names);
  *names = v;
  return 0;
}

/* Characters gnuplot's command line and a quoted string cannot carry safely. */
static int
has_control_chars(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return 1;
  return 0;
}

/* The -e commands: set the terminal and the (temporary) output file, a gnuplot
 * single-quoted string in which a quote is doubled.  Newly allocated. */
static char *
terminal_commands(const plot_format *f, const char *outname)
{
  size_t n = strlen(f->terminal) + 2 * strlen(outname) + 64;
  char *cmd = malloc(n);
  if (!cmd)
    return NULL;
  int k = snprintf(cmd, n, "set terminal %s; set output '", f->terminal);
  for (const char *s = outname; *s; s++) {
    if (*s == '\'')
      cmd[k++] = '\'';
    cmd[k++] = *s;
  }
  cmd[k++] = '\'';
  cmd[k] = '\0';
  return cmd;
}

/* Run gnuplot in dir on script with the -e commands; returns the wait status, or -1
 * when it could not be started (message printed). */
static int
run_gnuplot(const char *prog, const char *dir, const char *script, char *commands)
{
  /* A script named "-x.gp" would read as an option: pass it as "./-x.gp". */
  size_t n = strlen(script) + 3;
  char *arg = malloc(n), *progc = strdup(prog);
  char eopt[] = "-e";
  if (!arg || !progc) {
    free(arg);
    free(progc);
    infb_cli_error("out of memory");
    return -1;
  }
  snprintf(arg, n, "%s%s", script[0] == '-' ? "./" : "", script);
  char *argv[] = {progc, eopt, commands, arg, NULL};

  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    infb_cli_error("plot: cannot start gnuplot: %s", strerror(errno));
    free(arg);
    free(progc);
    return -1;
  }
  if (pid == 0) {
    /* gnuplot reads no input; only async-signal-safe calls are made before exec (which
     * resets the caught signals to their default actions and keeps ignored ones
     * ignored). */
    int fd = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      dup2(fd, STDIN_FILENO);
      if (fd != STDIN_FILENO)
        close(fd);
    }
    if (chdir(dir) != 0)
      _exit(126);
    execvp(progc, argv);
    _exit(127);
  }
  free(arg);
  free(progc);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      infb_cli_error("plot: waiting for gnuplot: %s", strerror(errno));
      return -1;
    }
  }
  return status;
}

/* ---------------------------------------------------------------- rendering */

/* Render one script to one format.  Returns 0 (written), 1 (failed, message printed) or
 * EXIT_INTERRUPTED. */
static int
render_one(const char *prog, const char *dir, const char *shown, const char *script,
           const plot_format *f, int quiet)
{
  size_t stemlen = strlen(script) - 3; /* without ".gp" */
  size_t outcap = stemlen + strlen(f->name) + 2, tmpcap = outcap + 32;
  char *outname = malloc(outcap), *tmpname = malloc(tmpcap);
  char *commands = NULL, *tmppath = NULL, *outpath = NULL;
  int rc = 1;
  if (outname && tmpname) {
    snprintf(outname, outcap, "%.*s.%s", (int)stemlen, script, f->name);
    snprintf(tmpname, tmpcap, "%s.tmp.%ld", outname, (long)getpid());
    commands = terminal_commands(f, tmpname);
    tmppath = join(dir, tmpname, NULL);
    outpath = join(dir, outname, NULL);
  }
  if (!commands || !tmppath || !outpath) {
    infb_cli_error("out of memory");
    goto done;
  }
  int status = run_gnuplot(prog, dir, script, commands);
  if (status == -1) {
    remove(tmppath);
    goto done;
  }
  if (WIFSIGNALED(status) || got_signal) {
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : got_signal;
    remove(tmppath);
    if (got_signal || sig == SIGINT || sig == SIGTERM) {
      rc = EXIT_INTERRUPTED;
      goto done;
    }
    infb_cli_error("plot: gnuplot failed on %s/%s (killed by signal %d)", shown, script,
                   sig);
    goto done;
  }
  int code = WEXITSTATUS(status);
  struct stat st;
  if (code == 126) {
    infb_cli_error("plot: cannot enter %s", shown);
  } else if (code == 127) {
    infb_cli_error("plot: cannot run %s", prog);
  } else if (code != 0) {
    infb_cli_error("plot: gnuplot failed on %s/%s (exit status %d)", shown, script, code);
  } else if (stat(tmppath, &st) != 0 || st.st_size == 0) {
    /* gnuplot creates the output at `set output` and leaves it empty without a plot. */
    infb_cli_error("plot: gnuplot drew nothing for %s/%s (no plot command?)", shown,
                   script);
  } else if (rename(tmppath, outpath) != 0) {
    infb_cli_error("plot: cannot write %s/%s: %s", shown, outname, strerror(errno));
  } else {
    rc = 0;
    if (!quiet)
      printf("wrote %s/%s\n", shown, outname);
  }
  if (rc)
    remove(tmppath);
done:
  free(outname);
  free(tmpname);
  free(commands);
  free(tmppath);
  free(outpath);
  return rc;
}

int
infb_cli_render_dir(const char *dir, const char *format, int quiet)
{
  int want[NFORMATS] = {0};
  if (strcmp(format, "both") == 0) {
    for (int i = 0; i < NFORMATS; i++)
      want[i] = 1;
  } else {
    int known = 0;
    for (int i = 0; i < NFORMATS; i++)
      if (strcmp(format, formats[i].name) == 0)
        want[i] = known = 1;
    if (!known) {
      infb_cli_error("plot: unknown format '%s' (png, svg or both)", format);
      return EXIT_USAGE;
    }
  }

  struct stat st;
  if (stat(dir, &st) != 0) {
    infb_cli_error("plot: %s: %s", dir, strerror(errno));
    return EXIT_USAGE;
  }
  if (!S_ISDIR(st.st_mode)) {
    infb_cli_error("plot: %s: not a directory", dir);
    return EXIT_USAGE;
  }
  /* The directory as printed: without trailing slashes ("runs/x/" -> "runs/x"). */
  char *shown = strdup(dir);
  if (!shown) {
    infb_cli_error("out of memory");
    return EXIT_RUNFAIL;
  }
  for (size_t n = strlen(shown); n > 1 && shown[n - 1] == '/'; n--)
    shown[n - 1] = '\0';

  char **names;
  size_t n;
  if (list_scripts(dir, &names, &n) != 0) {
    free(shown);
    return EXIT_RUNFAIL;
  }
  int rc = EXIT_OK;
  const char *prog;
  if (n == 0) {
    infb_cli_error("plot: no gnuplot scripts (*.gp) in %s", shown);
    rc = EXIT_RUNFAIL;
  } else if (!find_gnuplot(&prog)) {
    const char *g = getenv("GNUPLOT");
    if (g && *g)
      infb_cli_error("gnuplot not found: GNUPLOT=%s is not an executable; install gnuplot "
                     "(apt-get install gnuplot-nox) to render figures",
                     g);
    else
      infb_cli_error("gnuplot not found on PATH; install it (apt-get install gnuplot-nox) "
                     "to render figures");
    rc = EXIT_RUNFAIL;
  } else {
    struct sigaction old[2];
    catch_signals(old);
    for (size_t i = 0; i < n && rc != EXIT_INTERRUPTED; i++) {
      if (has_control_chars(names[i])) {
        infb_cli_error("plot: skipping a script whose name has control characters");
        rc = EXIT_RUNFAIL;
        continue;
      }
      for (int k = 0; k < NFORMATS; k++) {
        if (!want[k])
          continue;
        int r = render_one(prog, dir, shown, names[i], &formats[k], quiet);
        if (r == EXIT_INTERRUPTED) {
          rc = EXIT_INTERRUPTED;
          break;
        }
        if (r) {
          rc = EXIT_RUNFAIL;
          break; /* the script failed: its other format would fail the same way */
        }
      }
    }
    restore_signals(old);
    if (rc == EXIT_INTERRUPTED)
      infb_cli_error("plot: interrupted");
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  free(shown);
  return rc;
}

int
infb_cmd_plot(int argc, char **argv)
{
  static const struct option longopts[] = {{"format", required_argument, NULL, 'F'},
                                           {"quiet", no_argument, NULL, 'q'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *format = "both";
  int quiet = 0, ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'F':
      format = optarg;
      break;
    case 'q':
      quiet = 1;
      break;
    case 'h':
      fputs(usage_text, stdout);
      return EXIT_OK;
    default:
      fputs(usage_text, stderr);
      return EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    infb_cli_error("plot: %s", optind < argc ? "one directory expected" : "no directory given");
    fputs(usage_text, stderr);
    return EXIT_USAGE;
  }
  return infb_cli_render_dir(argv[optind], format, quiet);
}
