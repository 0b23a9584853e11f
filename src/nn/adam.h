/* stub: to be written */
#ifndef STUB_NN_ADAM
#define STUB_NN_ADAM
#endif
