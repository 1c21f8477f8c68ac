// The per-row passes of the CPU attention kernels (kernels/cpu/attention.cpp) for float32,
// written with intrinsics for AVX-512 (kernels/cpu/attention_rows_avx512.cpp) and for AVX2 +
// FMA (kernels/cpu/attention_rows_avx2.cpp): the forward's softmax, the backward's
// probabilities recomputed from the saved logsumexp, and dS. attention.cpp takes the AVX-512
// copy when attention_rows_avx512_usable(), else the AVX2 one when attention_rows_avx2_usable()
// (both follow cpu_capability(), Note [CPU capability]); other CPUs take its own loops.
//
// A block's rows are n rows of a buffer `se` floats apart; row r is query i0 + r and may see
// keys [0, keys(r)), keys(r) = causal ? min(s, i0 + r + 1) : s. Scores arrive unscaled: the
// value used for key j is row[j] * scale (one rounding, as when the product was scaled). Every
// float of a row's room is written: zeros past its keys. Each row's max and sums run in 16
// lanes folded in a fixed order, so a result depends only on its row, never on the thread
// count. The AVX2 copy keeps the 16 lanes (two 8-float halves), the AVX-512 copy's folding
// order and its exp, so from the same scores the two compute the same floats.
#pragma once
#include <cstdint>

namespace ranvier::cpu {

bool attention_rows_avx512_usable();
bool attention_rows_avx2_usable();
// Whether attention.cpp may take these passes (either copy; on by default; tests turn it off to
// run the portable passes); returns the previous setting.
bool set_attention_rows_vector_enabled(bool on);

// Rows become softmax probabilities; lse[r] = the row's logsumexp, or -inf (row all zeros)
// when no allowed key has a score above -inf.
void attn_softmax_rows_avx512(float* sc, int64_t n, int64_t se, int64_t i0, bool causal,
                              int64_t s, float scale, float* lse);
// Rows become exp(row[j] * scale - lse[r]); a row whose lse is -inf becomes zeros.
void attn_probs_rows_avx512(float* P, int64_t n, int64_t se, int64_t i0, bool causal, int64_t s,
                            float scale, const float* lse);
// dP becomes dS = P o (dP - D) * scale, D_r = g_r . out_r over ev columns (0 for a row whose
// lse is -inf); rows [0, h) have keys [0, se0) only, the others [0, se).
void attn_ds_rows_avx512(const float* P, float* dP, int64_t n, int64_t se, int64_t h,
                         int64_t se0, const float* g, int64_t gs, const float* out, int64_t os,
                         int64_t ev, const float* lse, float scale);

// The same three passes with AVX2 + FMA.
void attn_softmax_rows_avx2(float* sc, int64_t n, int64_t se, int64_t i0, bool causal, int64_t s,
                            float scale, float* lse);
void attn_probs_rows_avx2(float* P, int64_t n, int64_t se, int64_t i0, bool causal, int64_t s,
                          float scale, const float* lse);
void attn_ds_rows_avx2(const float* P, float* dP, int64_t n, int64_t se, int64_t h,
                       int64_t se0, const float* g, int64_t gs, const float* out, int64_t os,
                       int64_t ev, const float* lse, float scale);

}  // namespace ranvier::cpu
