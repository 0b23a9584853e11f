/* stub: to be written */
#ifndef STUB_INFER_GAPEVAL
#define STUB_INFER_GAPEVAL
#endif
