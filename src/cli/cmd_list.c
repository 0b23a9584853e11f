/* infbench list: models, estimators and data sources; `list keys`: the key table. */
#include "config.h"
#include "cli/cli.h"
#include "exp/keys.h"

#include <stdio.h>
#include <string.h>

static const char *
type_name(infb_key_type t)
{
  switch (t) {
  case INFB_KEY_STRING:
    return "string";
  case INFB_KEY_PATH:
    return "path";
  case INFB_KEY_INT:
    return "integer";
  case INFB_KEY_DOUBLE:
    return "real";
  case INFB_KEY_BOOL:
    return "boolean";
  case INFB_KEY_ENUM:
    return "enum";
  case INFB_KEY_LIST:
    return "list";
  case INFB_KEY_SWEEP:
    return "sweep";
  case INFB_KEY_DOUBLE_OR:
    return "real-or-word";
  }
  return "?";
}

int
infb_cmd_list(int argc, char **argv)
{
  if (argc > 2 || (argc == 2 && strcmp(argv[1], "keys") != 0 && strcmp(argv[1], "--help") != 0)) {
    fputs("usage: infbench list [keys]\n", stderr);
    return EXIT_USAGE;
  }
  if (argc == 2 && strcmp(argv[1], "--help") == 0) {
    fputs("usage: infbench list [keys]\n\n"
          "Without an argument: models, estimators and data sources, one line each.\n"
          "keys: every configuration key as section.key<TAB>type<TAB>default<TAB>help.\n",
          stdout);
    return EXIT_OK;
  }
  if (argc == 2) {
    for (size_t i = 0; i < infb_nkeys; i++) {
      const infb_key *k = &infb_keys[i];
      printf("%s.%s\t%s\t%s\t%s\n", k->section, k->name, type_name(k->type),
             k->def ? (*k->def ? k->def : "\"\"") : (k->required ? "(required)" : "-"), k->help);
    }
    return EXIT_OK;
  }
  for (size_t i = 0; i < infb_nmodels; i++)
    printf("model      %-10s %s\n", infb_models[i].name, infb_models[i].help);
  for (size_t i = 0; i < infb_nestimators; i++)
    printf("estimator  %-10s %s (models: %s)\n", infb_estimators[i].name, infb_estimators[i].help,
           infb_estimators[i].models);
  for (size_t i = 0; i < infb_nsources; i++)
    printf("source     %-10s %s\n", infb_sources[i].name, infb_sources[i].help);
  return EXIT_OK;
}
