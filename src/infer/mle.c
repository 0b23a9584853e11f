/* stub: to be written */
#include "config.h"
#include "infer/mle.h"
