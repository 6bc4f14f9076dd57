#include "CKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define WIDE __attribute__((target("avx2,fma")))

int lagoon_kernels_have_avx2(void) {
    static int cached = -1;  // benign race: every thread computes the same answer
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}

WIDE static inline int32_t sum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

WIDE static inline float sum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// 16 codes widened to 16-bit lanes times 16 query values, summed in pairs (vpmaddwd).
WIDE static inline __m256i madd16(const int16_t *q, const uint8_t *c) {
    __m256i codes = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)c));
    return _mm256_madd_epi16(codes, _mm256_loadu_si256((const __m256i *)q));
}

/// Scalar tail in unsigned arithmetic (wraps like the Swift kernels, no undefined overflow).
static inline uint32_t byte_tail(const int16_t *q, const uint8_t *c, size_t from, size_t n) {
    uint32_t s = 0;
    for (size_t j = from; j < n; j++) s += (uint32_t)((int32_t)q[j] * (int32_t)c[j]);
    return s;
}

/// Two rows per pass share the query loads.
WIDE static void byte_dot_two(const int16_t *q, const uint8_t *c0, const uint8_t *c1, size_t d, int32_t *o0, int32_t *o1) {
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    __m256i b0 = _mm256_setzero_si256(), b1 = _mm256_setzero_si256();
    size_t j = 0;
    for (; j + 32 <= d; j += 32) {
        a0 = _mm256_add_epi32(a0, madd16(q + j, c0 + j));
        b0 = _mm256_add_epi32(b0, madd16(q + j, c1 + j));
        a1 = _mm256_add_epi32(a1, madd16(q + j + 16, c0 + j + 16));
        b1 = _mm256_add_epi32(b1, madd16(q + j + 16, c1 + j + 16));
    }
    for (; j + 16 <= d; j += 16) {
        a0 = _mm256_add_epi32(a0, madd16(q + j, c0 + j));
        b0 = _mm256_add_epi32(b0, madd16(q + j, c1 + j));
    }
    *o0 = (int32_t)((uint32_t)sum_epi32(_mm256_add_epi32(a0, a1)) + byte_tail(q, c0, j, d));
    *o1 = (int32_t)((uint32_t)sum_epi32(_mm256_add_epi32(b0, b1)) + byte_tail(q, c1, j, d));
}

WIDE static int32_t byte_dot_one(const int16_t *q, const uint8_t *c, size_t d) {
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    size_t j = 0;
    for (; j + 32 <= d; j += 32) {
        a0 = _mm256_add_epi32(a0, madd16(q + j, c + j));
        a1 = _mm256_add_epi32(a1, madd16(q + j + 16, c + j + 16));
    }
    for (; j + 16 <= d; j += 16) a0 = _mm256_add_epi32(a0, madd16(q + j, c + j));
    return (int32_t)((uint32_t)sum_epi32(_mm256_add_epi32(a0, a1)) + byte_tail(q, c, j, d));
}

WIDE void lagoon_byte_dot_range_avx2(const int16_t *query, const uint8_t *codes, size_t dimension,
                                     size_t first, size_t count, int32_t *out) {
    const uint8_t *c = codes + first * dimension;
    const uint8_t *end = c + count * dimension;
    size_t i = 0;
    for (; i + 2 <= count; i += 2, c += 2 * dimension) {
        // The scan is bound by memory: ask for the rows of the pass after next now (the
        // hardware prefetcher stops at every 4 KiB page; a list spans several).
        for (const uint8_t *p = c + 4 * dimension; p < c + 6 * dimension && p < end; p += 64) _mm_prefetch((const char *)p, _MM_HINT_T0);
        byte_dot_two(query, c, c + dimension, dimension, out + i, out + i + 1);
    }
    if (i < count) out[i] = byte_dot_one(query, c, dimension);
}

WIDE void lagoon_byte_dot_rows_avx2(const int16_t *query, const uint8_t *codes, size_t dimension,
                                    const int32_t *rows, size_t count, int32_t *out) {
    size_t i = 0;
    for (; i + 2 <= count; i += 2) {
        byte_dot_two(query, codes + (size_t)rows[i] * dimension, codes + (size_t)rows[i + 1] * dimension, dimension,
                     out + i, out + i + 1);
    }
    if (i < count) out[i] = byte_dot_one(query, codes + (size_t)rows[i] * dimension, dimension);
}

WIDE static float float_tail(const float *q, const float *r, size_t from, size_t n) {
    float s = 0;
    for (size_t j = from; j < n; j++) s += q[j] * r[j];
    return s;
}

/// One row, in exactly the order the four-row pass uses for each of its rows (so a row's
/// score does not depend on which call or position computed it).
WIDE static float float_dot_one(const float *q, const float *r, size_t d) {
    __m256 a = _mm256_setzero_ps(), b = a;
    size_t j = 0;
    for (; j + 16 <= d; j += 16) {
        a = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(r + j), a);
        b = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), _mm256_loadu_ps(r + j + 8), b);
    }
    for (; j + 8 <= d; j += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(r + j), a);
    return sum_ps(_mm256_add_ps(a, b)) + float_tail(q, r, j, d);
}

/// Four rows per pass share the query loads; two accumulators per row hide the FMA latency.
WIDE static void float_dot_four(const float *q, const float *r0, const float *r1, const float *r2, const float *r3,
                                size_t d, float *out0, float *out1, float *out2, float *out3) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t j = 0;
    for (; j + 16 <= d; j += 16) {
        __m256 x = _mm256_loadu_ps(q + j), y = _mm256_loadu_ps(q + j + 8);
        a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r0 + j), a0);
        a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r1 + j), a1);
        a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r2 + j), a2);
        a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r3 + j), a3);
        b0 = _mm256_fmadd_ps(y, _mm256_loadu_ps(r0 + j + 8), b0);
        b1 = _mm256_fmadd_ps(y, _mm256_loadu_ps(r1 + j + 8), b1);
        b2 = _mm256_fmadd_ps(y, _mm256_loadu_ps(r2 + j + 8), b2);
        b3 = _mm256_fmadd_ps(y, _mm256_loadu_ps(r3 + j + 8), b3);
    }
    for (; j + 8 <= d; j += 8) {
        __m256 x = _mm256_loadu_ps(q + j);
        a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r0 + j), a0);
        a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r1 + j), a1);
        a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r2 + j), a2);
        a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r3 + j), a3);
    }
    *out0 = sum_ps(_mm256_add_ps(a0, b0)) + float_tail(q, r0, j, d);
    *out1 = sum_ps(_mm256_add_ps(a1, b1)) + float_tail(q, r1, j, d);
    *out2 = sum_ps(_mm256_add_ps(a2, b2)) + float_tail(q, r2, j, d);
    *out3 = sum_ps(_mm256_add_ps(a3, b3)) + float_tail(q, r3, j, d);
}

WIDE void lagoon_float_dot_range_avx2(const float *query, const float *matrix, size_t dimension,
                                      size_t first, size_t count, float *out) {
    const size_t d = dimension;
    const float *m = matrix + first * d;
    size_t i = 0;
    for (; i + 4 <= count; i += 4, m += 4 * d) {
        float_dot_four(query, m, m + d, m + 2 * d, m + 3 * d, d, out + i, out + i + 1, out + i + 2, out + i + 3);
    }
    for (; i < count; i++, m += d) out[i] = float_dot_one(query, m, d);
}

WIDE void lagoon_float_dot_rows_avx2(const float *query, const float *matrix, size_t dimension,
                                     const int32_t *rows, size_t count, float *out) {
    const size_t d = dimension;
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        float_dot_four(query, matrix + (size_t)rows[i] * d, matrix + (size_t)rows[i + 1] * d, matrix + (size_t)rows[i + 2] * d,
                       matrix + (size_t)rows[i + 3] * d, d, out + i, out + i + 1, out + i + 2, out + i + 3);
    }
    for (; i < count; i++) out[i] = float_dot_one(query, matrix + (size_t)rows[i] * d, d);
}

#else  // Not x86-64: never called (the Swift kernels run), defined so the module links.

int lagoon_kernels_have_avx2(void) { return 0; }

void lagoon_byte_dot_range_avx2(const int16_t *query, const uint8_t *codes, size_t dimension,
                                size_t first, size_t count, int32_t *out) {
    for (size_t i = 0; i < count; i++) {
        const uint8_t *c = codes + (first + i) * dimension;
        uint32_t s = 0;
        for (size_t j = 0; j < dimension; j++) s += (uint32_t)((int32_t)query[j] * (int32_t)c[j]);
        out[i] = (int32_t)s;
    }
}

void lagoon_byte_dot_rows_avx2(const int16_t *query, const uint8_t *codes, size_t dimension,
                               const int32_t *rows, size_t count, int32_t *out) {
    for (size_t i = 0; i < count; i++) lagoon_byte_dot_range_avx2(query, codes, dimension, (size_t)rows[i], 1, out + i);
}

void lagoon_float_dot_range_avx2(const float *query, const float *matrix, size_t dimension,
                                 size_t first, size_t count, float *out) {
    for (size_t i = 0; i < count; i++) {
        const float *r = matrix + (first + i) * dimension;
        float s = 0;
        for (size_t j = 0; j < dimension; j++) s += query[j] * r[j];
        out[i] = s;
    }
}

void lagoon_float_dot_rows_avx2(const float *query, const float *matrix, size_t dimension,
                                const int32_t *rows, size_t count, float *out) {
    for (size_t i = 0; i < count; i++) lagoon_float_dot_range_avx2(query, matrix, dimension, (size_t)rows[i], 1, out + i);
}

#endif
