// Kernels that need instruction sets beyond the x86-64 baseline (SSE2), chosen at run time.
//
// Swift cannot compile one function for AVX2 and its neighbour for SSE2, so the wide paths
// live here, each behind a per-function target attribute, and the Swift side (module
// Kernels) calls them only when `lagoon_kernels_have_avx2()` says the CPU has AVX2 and FMA.
// Every function is also defined on other architectures (as a plain loop), so the module
// links everywhere; Kernels never calls them there.
#ifndef LAGOON_CKERNELS_H
#define LAGOON_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU runs AVX2 and FMA (checked once), else 0.
int lagoon_kernels_have_avx2(void);

/// out[i] = Σ_j query[j] · codes[(first + i) · dimension + j] for i < count (exact in 32 bits
/// when the true sums fit, which ByteDotScorer's query bound guarantees).
void lagoon_byte_dot_range_avx2(const int16_t *query, const uint8_t *codes, size_t dimension,
                                size_t first, size_t count, int32_t *out);

/// out[i] = Σ_j query[j] · codes[rows[i] · dimension + j] for i < count.
void lagoon_byte_dot_rows_avx2(const int16_t *query, const uint8_t *codes, size_t dimension,
                               const int32_t *rows, size_t count, int32_t *out);

/// out[i] = Σ_j query[j] · matrix[(first + i) · dimension + j] for i < count, with FMA
/// (rounding differs from the SSE2 loops in the last bits).
void lagoon_float_dot_range_avx2(const float *query, const float *matrix, size_t dimension,
                                 size_t first, size_t count, float *out);

/// out[i] = Σ_j query[j] · matrix[rows[i] · dimension + j] for i < count; each row's value is
/// bit-identical to the one `lagoon_float_dot_range_avx2` computes for it.
void lagoon_float_dot_rows_avx2(const float *query, const float *matrix, size_t dimension,
                                const int32_t *rows, size_t count, float *out);

// Baseline kernels (every architecture, vectorised by the compiler).

/// Widens low[j] / high[j] to cover row[j] · scale where that is finite (ScalarQuantizer.widen).
void lagoon_sq_widen(const float *row, size_t dimension, float scale, float *low, float *high);

/// codes[j] = the nearest code of row[j] · scale: clamp((x − minimum[j]) / step[j] + 0.5) to
/// 0…255, truncated; NaN → 0 (ScalarQuantizer.encode).
void lagoon_sq_encode(const float *row, size_t dimension, float scale, const float *minimum, const float *step,
                      uint8_t *codes);

#endif
