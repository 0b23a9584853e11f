/* stub: to be written */
#include "config.h"
#include "infer/meanfield.h"
