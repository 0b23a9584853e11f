/* stub: to be written */
#ifndef STUB_INFER_EM
#define STUB_INFER_EM
#endif
