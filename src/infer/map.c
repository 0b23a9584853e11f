/* stub: to be written */
#include "config.h"
#include "infer/map.h"
