/* stub: to be written */
#ifndef STUB_EXP_RUNLATENT
#define STUB_EXP_RUNLATENT
#endif
