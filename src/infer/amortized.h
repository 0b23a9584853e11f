/* stub: to be written */
#ifndef STUB_INFER_AMORTIZED
#define STUB_INFER_AMORTIZED
#endif
