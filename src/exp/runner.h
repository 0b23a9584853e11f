#ifndef INFB_EXP_runner_H
#define INFB_EXP_runner_H
#endif
