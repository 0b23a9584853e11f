/* Fault injection (see fault.h): the environment read once, a count of the armed point's
 * reaches, and SIGKILL or a FIFO handshake at the chosen one. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/strparse.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int infb_fault_armed_ = -1;

static const char *const points[] = {"train-step", "checkpoint-write", "file-write",
                                     "gap-group", "par-group"};

static char armed_point[32]; /* the point acted at */
static unsigned long armed_n; /* at its armed_n-th reach */
static unsigned long reached; /* reaches so far */
static int pause_mode;        /* pause (1) or kill (0) */
static char *pause_fifo;      /* INFBENCH_PAUSE_FIFO (owned for the process's life) */

/* Parse "POINT[:N]" of variable var into armed_point and armed_n. */
static int
parse(const char *var, const char *value)
{
  size_t len = strcspn(value, ":");
  int known = 0;
  for (size_t k = 0; k < sizeof points / sizeof *points; k++)
    known |= strlen(points[k]) == len && strncmp(points[k], value, len) == 0;
  if (!known)
    return INFB_ERROR(INFB_ECONFIG, "%s=%s: unknown point '%.*s' (points: %s)", var, value,
                      (int)len, value, INFB_FAULT_POINTS);
  long n = 1;
  if (value[len] == ':' && (infb_parse_long(value + len + 1, &n, NULL) || n < 1))
    return INFB_ERROR(INFB_ECONFIG, "%s=%s: '%s' is not a count of 1 or more", var, value,
                      value + len + 1);
  snprintf(armed_point, sizeof armed_point, "%.*s", (int)len, value);
  armed_n = (unsigned long)n;
  return GSL_SUCCESS;
}

int
infb_fault_init(void)
{
  if (infb_fault_armed_ >= 0)
    return GSL_SUCCESS;
  infb_fault_armed_ = 0;
  const char *kill_at = getenv("INFBENCH_KILL_AT");
  const char *pause_at = getenv("INFBENCH_PAUSE_AT");
  const char *fifo = getenv("INFBENCH_PAUSE_FIFO");
  if (kill_at && !*kill_at)
    kill_at = NULL;
  if (pause_at && !*pause_at)
    pause_at = NULL;
  if (!kill_at && !pause_at)
    return GSL_SUCCESS;
  if (kill_at && pause_at)
    return INFB_ERROR(INFB_ECONFIG, "INFBENCH_KILL_AT and INFBENCH_PAUSE_AT are both set; "
                                    "set one");
  if (pause_at && (!fifo || !*fifo))
    return INFB_ERROR(INFB_ECONFIG, "INFBENCH_PAUSE_AT needs INFBENCH_PAUSE_FIFO (a FIFO "
                                    "to wait on)");
  int st = parse(kill_at ? "INFBENCH_KILL_AT" : "INFBENCH_PAUSE_AT", kill_at ? kill_at : pause_at);
  if (st)
    return st;
  if (pause_at && !(pause_fifo = infb_strdup(fifo)))
    return GSL_ENOMEM;
  pause_mode = pause_at != NULL;
  infb_fault_armed_ = 1;
  return GSL_SUCCESS;
}

/* Write all of buf to fd (EINTR retried); nonzero on failure. */
static int
write_all(int fd, const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t k = write(fd, buf, len);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return 1;
    buf += k;
    len -= (size_t)k;
  }
  return 0;
}

/* The handshake: announce the point on the FIFO (blocks until the test reads), then
 * block until the test has written and closed its end.  A FIFO that cannot be used
 * leaves the run going on: the test sees no announcement and fails. */
static void
pause_here(void)
{
  char line[96];
  int len = snprintf(line, sizeof line, "%s %lu %ld\n", armed_point, armed_n, (long)getpid());
  int fd;
  while ((fd = open(pause_fifo, O_WRONLY)) < 0 && errno == EINTR)
    ;
  if (fd < 0)
    return;
  int bad = write_all(fd, line, (size_t)len);
  close(fd);
  if (bad)
    return;
  while ((fd = open(pause_fifo, O_RDONLY)) < 0 && errno == EINTR)
    ;
  if (fd < 0)
    return;
  char buf[64];
  for (;;) {
    ssize_t k = read(fd, buf, sizeof buf);
    if (k == 0 || (k < 0 && errno != EINTR))
      break;
  }
  close(fd);
}

void
infb_fault_reach_(const char *name, FILE *fp)
{
  if (infb_fault_armed_ < 0 && infb_fault_init() != GSL_SUCCESS)
    infb_error_clear(); /* invalid: nothing armed (the CLI checks it first) */
  if (infb_fault_armed_ <= 0 || strcmp(name, armed_point) != 0 || ++reached != armed_n)
    return;
  if (fp)
    fflush(fp);
  if (pause_mode)
    pause_here();
  else
    raise(SIGKILL);
}
