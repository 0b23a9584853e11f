/* stub */
#include "config.h"
#include "cli/cli.h"
