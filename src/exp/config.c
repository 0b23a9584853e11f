/* stub: to be written */
#include "config.h"
#include "exp/config.h"
