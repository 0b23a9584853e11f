/* Wall-clock time for reporting how long a stage took. */
#ifndef INFB_CORE_CLOCK_H
#define INFB_CORE_CLOCK_H

/* Seconds on a monotonic clock, from an arbitrary origin. */
double infb_clock_seconds(void);

#endif
