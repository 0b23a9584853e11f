/* stub: to be written */
#ifndef STUB_NN_ACT
#define STUB_NN_ACT
#endif
