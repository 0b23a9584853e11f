/* stub: to be written */
#ifndef STUB_NN_DENSE
#define STUB_NN_DENSE
#endif
