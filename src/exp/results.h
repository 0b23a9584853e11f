#ifndef INFB_EXP_results_H
#define INFB_EXP_results_H
#endif
