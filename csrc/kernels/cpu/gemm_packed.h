// A small GEMM on a pre-packed right-hand matrix, for loops that multiply by the same matrix
// many times (the recurrent step of kernels/cpu/rnn.cpp): B is packed once into panels of
// kPackNr columns, then each call computes C[:, panel columns] = (or +=) A @ panel.
// Note [Packed GEMM determinism]: every element of C is one sum over k in increasing order
// (one FMA chain per element, added to C's old value at the end when accumulating), whatever
// the tile it falls in, the number of valid rows or columns of that tile, or the thread that
// runs it. Splitting the panels or rows among threads therefore never changes a result. The
// float kernels are AVX-512 (8 x 32 tiles; 8 x 16 or 8 x 8 for a last panel of at most 16 or 8
// columns) or AVX2 + FMA (6 x 16; a last panel of at most 4 columns with vectors down the
// rows, the same chains), picked at run time; double and other CPUs use a portable loop.
#pragma once
#include <cstdint>

namespace ranvier::cpu {

constexpr int64_t kPackNr = 32;

// Packs the K x N block of B whose element (k, n) is b[k * rs + n * cs] (N <= kPackNr) into
// one panel: K rows of kPackNr contiguous values, zero past column N.
template <typename T>
void pack_panel(int64_t K, int64_t N, const T* b, int64_t rs, int64_t cs, T* out);

// C[m, n] = sum_k A[m, k] * panel[k, n] for m < M, n < ncols (<= kPackNr); with accumulate,
// C[m, n] += that sum (the sum is formed first); with a bias row (float only), C[m, n] =
// bias[n] + that sum. A is row-major with row stride lda.
void gemm_panel(int64_t M, int64_t K, const float* a, int64_t lda, const float* panel,
                int64_t ncols, float* c, int64_t ldc, bool accumulate,
                const float* bias = nullptr);
// The AVX-512 kernel alone (gemm_packed_isa() == 2 only), more general: A may be stored
// transposed (trans_a: A[m, k] at a[k * lda + m]), and the panel's rows are ldp apart, so that
// a row-major B whose columns [n0, n0 + 32) are all there is read in place (panel = b + n0,
// ldp = B's row stride).
void gemm_panel_avx512(bool trans_a, int64_t M, int64_t K, const float* a, int64_t lda,
                       const float* panel, int64_t ldp, int64_t ncols, float* c, int64_t ldc,
                       bool accumulate, const float* bias);
// The same for the AVX2 + FMA kernel (gemm_packed_isa() >= 1), the same bits. A panel of at
// most kNarrowAvx2 columns runs down the rows (vectors along m), best given all its rows in
// one call.
constexpr int64_t kNarrowAvx2 = 4;
void gemm_panel_avx2(bool trans_a, int64_t M, int64_t K, const float* a, int64_t lda,
                     const float* panel, int64_t ldp, int64_t ncols, float* c, int64_t ldc,
                     bool accumulate, const float* bias);
// The AVX2 kernel on an A grouped six rows at a time: rows [6g, 6g + 6) are the block at
// a + g * group_stride holding A[6g + i, k] at [k * 6 + i] (rows past M repeat the last one;
// M's tiles must start at multiples of 6 from a's first row).
void gemm_panel_avx2_grouped(int64_t M, int64_t K, const float* a, int64_t group_stride,
                             const float* panel, int64_t ldp, int64_t ncols, float* c,
                             int64_t ldc, bool accumulate, const float* bias);
void gemm_panel(int64_t M, int64_t K, const double* a, int64_t lda, const double* panel,
                int64_t ncols, double* c, int64_t ldc, bool accumulate);

// Which float kernel runs: 2 AVX-512, 1 AVX2 + FMA, 0 portable. set_gemm_packed_isa picks a
// lower one (for tests; clamped to what the CPU supports) and returns the level now in use.
int gemm_packed_isa();
int set_gemm_packed_isa(int level);

// Whole GEMM through the packed path (for tests): C[M, N] (= or +=) A[M, K] @ B[K, N], all
// row-major and contiguous.
void gemm_packed_full(bool is_double, int64_t M, int64_t N, int64_t K, const void* a,
                      const void* b, void* c, bool accumulate);

}  // namespace ranvier::cpu
