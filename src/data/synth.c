/* stub: to be written */
#include "config.h"
#include "data/synth.h"
