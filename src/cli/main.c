/* infbench: dispatch to a command. */
#include "config.h"
#include "cli/cli.h"
#include <stdio.h>
int
main(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  puts("infbench " PACKAGE_VERSION);
  return 0;
}
