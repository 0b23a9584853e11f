/* stub: to be written */
#include "config.h"
#include "exp/results.h"
