/* stub: to be written */
#include "config.h"
#include "infer/estimator.h"
