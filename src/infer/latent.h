/* stub: to be written */
#ifndef STUB_INFER_LATENT
#define STUB_INFER_LATENT
#endif
