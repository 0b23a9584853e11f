/* stub: to be written */
#include "config.h"
#include "model/logreg.h"
