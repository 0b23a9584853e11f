/* What the fuzz targets share: libFuzzer's entry point, which each tests/fuzz/fuzz-*.c
 * defines, and helpers for the targets whose library API reads files or takes its input
 * in parts.  A target is linked either with libFuzzer (`make fuzz`, clang) or with
 * replay.c, which calls it on every file of its corpus (`make check`, any compiler). */
#ifndef INFB_TESTS_FUZZ_FUZZ_H
#define INFB_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The target: one input, any bytes.  Returns 0 (libFuzzer's convention); a finding is a
 * crash, a sanitizer report, a leak, a hang, or an abort() on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Once per process, from every target: GSL's error handler records instead of aborting
 * (as the CLI does), so library errors are statuses. */
void fuzz_init(void);

/* A scratch directory of this process (under $TMPDIR or /tmp), made on the first call and
 * removed with its contents at exit. */
const char *fuzz_tmpdir(void);

/* Replace the file at path by the len bytes of data; abort() when it cannot be written
 * (the fuzzer's own failure, not a finding in infbench). */
void fuzz_write_file(const char *path, const void *data, size_t len);

/* The separator of an input's parts (a config and its --set lines; a run directory's
 * files): a line of its own, "--8<--". */
#define FUZZ_SEPARATOR "\n--8<--\n"

/* Split data at each FUZZ_SEPARATOR into at most max parts (the last takes the rest);
 * part[k], len[k] point into data.  Returns the number of parts (≥ 1). */
size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len,
                  size_t max);

/* A read-only stream on len bytes of data (fmemopen; any len, 0 included); abort() on
 * failure.  fclose it. */
FILE *fuzz_memstream(const uint8_t *data, size_t len);

#endif
