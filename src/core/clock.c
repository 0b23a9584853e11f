/* Monotonic clock (POSIX clock_gettime). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "core/clock.h"

#include <time.h>

double
infb_clock_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
