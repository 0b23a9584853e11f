/* stub: to be written */
#include "config.h"
#include "data/dataset.h"
