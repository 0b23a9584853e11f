/* stub: to be written */
#ifndef STUB_NN_MLP
#define STUB_NN_MLP
#endif
