/* stub: to be written */
#ifndef STUB_INFER_LGMEANFIELD
#define STUB_INFER_LGMEANFIELD
#endif
