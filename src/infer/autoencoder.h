/* stub: to be written */
#ifndef STUB_INFER_AUTOENCODER
#define STUB_INFER_AUTOENCODER
#endif
