/* Fuzz target: the VAE checkpoint loader (infer/vaetrain.h) into a 16-8-2 model (ELU;
 * decoder 2-8-16), the architecture of the seed checkpoints, which `infbench run` wrote
 * from a tiny config (tests/fuzz/make-seeds).  Input: one byte of options, then the file.
 * Bit 0: load with a trainer (its Adam state and counters restored), else the model only.
 * Bit 1: first replace the file's last 32 bytes by the SHA-256 of the rest, so mutations
 * get past the checksum to the header's checks.  On failure, the model and the trainer
 * must be unchanged (the loader's contract). */
#include <config.h>
#include "fuzz/fuzz.h"
#include "infer/vaetrain.h"
#include "nn/vae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nettle/sha2.h>

enum { D = 16, H = 8, K = 2, N = 4 };

static infb_vae_f32 *vae;
static infb_vaetrain *trainer;
static float X[N * D];
static char path[4200];

static void
setup(void)
{
  fuzz_init();
  if (vae)
    return;
  infb_vae_arch a = {.D = D, .K = K, .nenc = 1, .ndec = 1, .act = INFB_ACT_ELU};
  a.enc_hidden[0] = H;
  a.dec_hidden[0] = H;
  infb_vaetrain_options o = {.batch = 2, .samples = 1, .lr = 1e-3, .schedule = INFB_SCHEDULE_CONSTANT,
                             .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .seed = 1};
  vae = infb_vae_alloc_f32(&a, o.batch, o.samples);
  trainer = vae ? infb_vaetrain_alloc(vae, N, X, &o, 1) : NULL;
  if (!trainer)
    abort();
  snprintf(path, sizeof path, "%s/checkpoint.bin", fuzz_tmpdir());
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  setup();
  if (size < 1)
    return 0;
  int with_trainer = data[0] & 1u, fix = data[0] & 2u;
  size_t len = size - 1;
  uint8_t *file = malloc(len ? len : 1);
  memcpy(file, data + 1, len);
  if (fix && len >= SHA256_DIGEST_SIZE) {
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len - SHA256_DIGEST_SIZE, file);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, file + len - SHA256_DIGEST_SIZE);
  }
  fuzz_write_file(path, file, len);
  free(file);

  size_t n;
  float *theta = infb_vae_params_f32(vae, &n);
  float *before = malloc(n * sizeof *before);
  memcpy(before, theta, n * sizeof *before);
  size_t epochs = infb_vaetrain_epochs_done(trainer), skipped = infb_vaetrain_skipped(trainer);
  int st = infb_vae_checkpoint_load(path, vae, with_trainer ? trainer : NULL);
  if (st && (memcmp(before, theta, n * sizeof *before) != 0 ||
             infb_vaetrain_epochs_done(trainer) != epochs ||
             infb_vaetrain_skipped(trainer) != skipped)) {
    fprintf(stderr, "a failed load changed the model or the trainer\n");
    abort();
  }
  free(before);
  return 0;
}
