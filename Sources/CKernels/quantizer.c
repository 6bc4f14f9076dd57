// Scalar-quantiser loops in plain C: the compiler vectorises them for the baseline ISA (SSE2
// on x86-64, NEON on arm64), which Swift's bounds-checked array loops do not. No contraction
// into FMA: the results must equal ScalarQuantizer's Swift definitions bit for bit.
#pragma STDC FP_CONTRACT OFF
#include "CKernels.h"

void lagoon_sq_widen(const float *row, size_t dimension, float scale, float *low, float *high) {
    for (size_t j = 0; j < dimension; j++) {
        float x = row[j] * scale;
        int finite = (x - x) == 0.0f;  // false for NaN and ±∞
        float lo = low[j], hi = high[j];
        low[j] = (finite && x < lo) ? x : lo;
        high[j] = (finite && x > hi) ? x : hi;
    }
}

void lagoon_sq_encode(const float *row, size_t dimension, float scale, const float *minimum, const float *step,
                      uint8_t *codes) {
    for (size_t j = 0; j < dimension; j++) {
        float t = (row[j] * scale - minimum[j]) / step[j] + 0.5f;
        // NaN fails both comparisons: code 0.
        codes[j] = t >= 255.0f ? 255 : (t > 0.0f ? (uint8_t)t : 0);
    }
}
