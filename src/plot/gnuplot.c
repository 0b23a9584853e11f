/* stub: to be written */
#include "config.h"
#include "plot/gnuplot.h"
