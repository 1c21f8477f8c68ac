// The float32 GEMM driver on packed panels (gemm_panels.h).
//
// Note [Panel GEMM]: C[m, n] = (bias[n] or C's old value or 0) + A[m, :] . B[:, n]. B is packed
// into panels of kPackNr columns (K rows of 32 contiguous floats, gemm_packed.h), A is read in
// place, eight rows at a time, by the 8 x 32 AVX-512 micro-kernel. OpenBLAS packs both operands on
// every call, which is most of its overhead on this project's GEMMs (K 96-1024, a few hundred to
// a few thousand rows); this path packs only B and reaches ~95% of a Zen 4 core's FMA peak on
// them (benchmarks/kernels/gemm_panels.py has the shapes and the comparison).
//
// The work is split into (panel, row range) items, as many row ranges per panel as it takes for
// the items to divide evenly among the threads (more where B is read in place, see run()); the
// threads take items one at a time
// (parallel_items: a thread slowed by a busy core takes fewer) and pack the panels of the items
// they take.
// K is cut into fixed blocks of at most kKBlock (a panel block then stays in L1): each element is
// the sum of its K blocks in order, each block one FMA chain in k order, whatever the thread
// count or the item an element falls in, so results do not depend on the number of threads.
#include "kernels/cpu/gemm_panels.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/gemm_packed.h"
#include "kernels/cpu/lane_mask_avx2.h"
#include "kernels/cpu/transpose_avx2.h"
#include "ops/matmul.h"

namespace ranvier::cpu {

namespace {

constexpr int64_t NR = kPackNr;
constexpr int64_t kKBlock = 256;   // k values per block of a panel (32 KB)
constexpr int64_t kRowBlock = 64;  // rows of C finished over all K blocks before moving on
constexpr int64_t kMaxA = int64_t(1) << 19;  // floats of A (2 MB) the path takes at most
constexpr int64_t kKeptPanel = int64_t(1) << 18;  // floats (1 MB) of panel buffer kept per thread

std::atomic<bool>& enabled() {
  static std::atomic<bool> on{true};
  return on;
}

// 16 x 16 transpose: rows[i] holds src row i (16 floats); out row j (at out + j * ld) gets
// column j.
__attribute__((target("avx512f"))) inline void transpose16(const float* src, int64_t lds,
                                                           float* out, int64_t ld) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) {  // pairs of rows: 2 x 2 blocks of single floats
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // 4 x 4 blocks
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // r[4q + s] now holds, in each 128-bit lane l, column 4l + s' of rows 4q..4q+3 (s' = the
  // order unpack left: 0, 1, 2, 3 for s = 0, 1, 2, 3). Gather the lanes across the four groups.
  for (int s = 0; s < 4; ++s) {
    const __m512 g0 = r[s], g1 = r[4 + s], g2 = r[8 + s], g3 = r[12 + s];
    const __m512 lo01 = _mm512_shuffle_f32x4(g0, g1, 0x44);  // lanes 0,1 of g0, then of g1
    const __m512 hi01 = _mm512_shuffle_f32x4(g0, g1, 0xEE);  // lanes 2,3 of g0, then of g1
    const __m512 lo23 = _mm512_shuffle_f32x4(g2, g3, 0x44);
    const __m512 hi23 = _mm512_shuffle_f32x4(g2, g3, 0xEE);
    t[s] = _mm512_shuffle_f32x4(lo01, lo23, 0x88);       // lane 0 of each group: column s
    t[4 + s] = _mm512_shuffle_f32x4(lo01, lo23, 0xDD);   // lane 1: column 4 + s
    t[8 + s] = _mm512_shuffle_f32x4(hi01, hi23, 0x88);   // lane 2: column 8 + s
    t[12 + s] = _mm512_shuffle_f32x4(hi01, hi23, 0xDD);  // lane 3: column 12 + s
  }
  for (int j = 0; j < 16; ++j) _mm512_storeu_ps(out + j * ld, t[j]);
}

// Rows of nc (<= 32) contiguous floats, rs apart, into panel rows of 32 (zero past nc): two
// masked 16-float moves a row (a memcpy call per 128 bytes cost more than the copy).
__attribute__((target("avx512f"))) void copy_rows(int64_t K, int64_t nc, const float* src,
                                                  int64_t rs, float* panel) {
  const __mmask16 m0 = __mmask16(nc >= 16 ? 0xFFFF : (1u << nc) - 1);
  const __mmask16 m1 = __mmask16(nc >= 32 ? 0xFFFF : nc <= 16 ? 0 : (1u << (nc - 16)) - 1);
  for (int64_t k = 0; k < K; ++k) {
    const float* r = src + k * rs;
    _mm512_storeu_ps(panel + k * NR, _mm512_maskz_loadu_ps(m0, r));
    _mm512_storeu_ps(panel + k * NR + 16, _mm512_maskz_loadu_ps(m1, r + 16));
  }
}

// The AVX2 copy of copy_rows (a transposed weight's 8 x 8 transposes are transpose8 of
// transpose_avx2.h): rows copied in 8-float pieces under lane masks.
__attribute__((target("avx2"))) void copy_rows_avx2(int64_t K, int64_t nc, const float* src,
                                                    int64_t rs, float* panel) {
  __m256i m[4];
  for (int q = 0; q < 4; ++q) m[q] = lane_mask8(nc - 8 * q);
  for (int64_t k = 0; k < K; ++k) {
    const float* r = src + k * rs;
    for (int q = 0; q < 4; ++q)
      _mm256_storeu_ps(panel + k * NR + 8 * q, _mm256_maskload_ps(r + 8 * q, m[q]));
  }
}

// Six floats of each of n rows (src, rows lds apart) to dst, rows six floats apart: eight-float
// moves whose last two floats the next row's move overwrites; the last row moves six (the
// floats after them belong to a part another thread may have written). src must have eight
// readable floats per row.
__attribute__((target("avx2"))) void group_rows_avx2(int64_t n, const float* src, int64_t lds,
                                                     float* dst) {
  int64_t k = 0;
  for (; k + 1 < n; ++k) _mm256_storeu_ps(dst + 6 * k, _mm256_loadu_ps(src + k * lds));
  if (k < n) std::memcpy(dst + 6 * k, src + k * lds, 6 * sizeof(float));
}

// Packs columns [n0, n0 + nc) of B (element (k, n) at b[k * rs + n * cs]) into a panel. A
// transposed weight (rs == 1) is read along its rows and turned by register transposes
// (16 x 16 with AVX-512, 8 x 8 with AVX2).
template <bool kAvx512>
void pack_columns(int64_t K, int64_t n0, int64_t nc, const float* b, int64_t rs, int64_t cs,
                  float* panel) {
  if (cs == 1) {
    if constexpr (kAvx512) copy_rows(K, nc, b + n0, rs, panel);
    else copy_rows_avx2(K, nc, b + n0, rs, panel);
    return;
  }
  if (rs == 1) {
    constexpr int64_t T = kAvx512 ? 16 : 8;
    if (nc < NR)
      for (int64_t k = 0; k < K; ++k) std::fill(panel + k * NR + nc, panel + (k + 1) * NR, 0.0f);
    const int64_t kt = K / T * T, nt = nc / T * T;
    for (int64_t nb = 0; nb < nt; nb += T)
      for (int64_t k0 = 0; k0 < kt; k0 += T) {
        if constexpr (kAvx512) transpose16(b + (n0 + nb) * cs + k0, cs, panel + k0 * NR + nb, NR);
        else transpose8(b + (n0 + nb) * cs + k0, cs, panel + k0 * NR + nb, NR);
      }
    for (int64_t n = 0; n < nc; ++n) {  // what the square blocks left
      const float* src = b + (n0 + n) * cs;
      for (int64_t k = n < nt ? kt : 0; k < K; ++k) panel[k * NR + n] = src[k];
    }
    return;
  }
  pack_panel<float>(K, nc, b + n0 * cs, rs, cs, panel);
}

// One product for the panel path: C (ldc) = [bias +] [C +] A @ B, A row-major or transposed
// (trans_a; lda is then the stride between A's columns), B at b[k * b_rs + n * b_cs].
struct Problem {
  int64_t M = 0, N = 0, K = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  const float* b = nullptr;
  int64_t b_rs = 0, b_cs = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;
  const float* bias = nullptr;
  int64_t ranges = 1;    // row ranges per panel
  int64_t rows_per = 0;  // rows in each
  int64_t row_block = kRowBlock;
  const float* a_groups = nullptr;  // A grouped six rows at a time (AVX2, transposed A)
};

// The work items of pr (item = panel * ranges + row range) that next() hands out, until it
// returns -1.
template <bool kAvx512, typename Next>
void run_items(const Problem& pr, const Next& next) {
  const int64_t K = pr.K;
  const int64_t nkb = (K + kKBlock - 1) / kKBlock;
  const int64_t kc = (K + nkb - 1) / nkb;
  // Each thread keeps its panel buffer up to kKeptPanel floats (a fresh one per call cost page
  // faults); a longer K gets a buffer of its own.
  thread_local std::vector<float> kept;
  std::vector<float> own;
  std::vector<float>& panel = K * NR <= kKeptPanel ? kept : own;
  if (panel.size() < size_t(K * NR)) panel.resize(size_t(K * NR));
  int64_t packed = -1;
  for (int64_t it = next(); it >= 0; it = next()) {
    const int64_t p = it / pr.ranges, r = it % pr.ranges;
    const int64_t n0 = p * NR, nc = std::min(NR, pr.N - n0);
    // A row-major B with all 32 columns there is read in place on AVX-512. On AVX2 only where
    // its rows are not a multiple of 64 floats apart: the 6 x 16 tiles read each panel row as
    // two halves, and rows a power-of-two apart share a few L1 sets (dX = dY @ W ran 8% faster
    // with the panel packed); other strides spread over the sets (the cnn's Winograd products
    // in place: its step 8.76-8.79 -> 8.65 ms, no change to mlp or gpt).
    const bool in_place = pr.b_cs == 1 && nc == NR && (kAvx512 || pr.b_rs % 64 != 0);
    if (!in_place && p != packed) {
      pack_columns<kAvx512>(K, n0, nc, pr.b, pr.b_rs, pr.b_cs, panel.data());
      packed = p;
    }
    const float* pb = in_place ? pr.b + n0 : panel.data();
    const int64_t ldp = in_place ? pr.b_rs : NR;
    const int64_t r0 = r * pr.rows_per, r1 = std::min(pr.M, r0 + pr.rows_per);
    // a narrow AVX2 panel runs down the whole row range in one call per K block
    const int64_t row_block = !kAvx512 && nc <= kNarrowAvx2 ? r1 - r0 : pr.row_block;
    for (int64_t m0 = r0; m0 < r1; m0 += row_block) {
      const int64_t mr = std::min(row_block, r1 - m0);
      for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kk = std::min(kc, K - k0);
        const bool first = k0 == 0;
        const bool acc = first ? pr.accumulate : true;
        const float* bias = first && pr.bias ? pr.bias + n0 : nullptr;
        float* c = pr.c + m0 * pr.ldc + n0;
        if (!kAvx512 && pr.a_groups && nc > kNarrowAvx2) {
          gemm_panel_avx2_grouped(mr, kk, pr.a_groups + (m0 / 6) * 6 * K + k0 * 6, 6 * K,
                                  pb + k0 * ldp, ldp, nc, c, pr.ldc, acc, bias);
          continue;
        }
        const float* ab = pr.trans_a ? pr.a + k0 * pr.lda + m0 : pr.a + m0 * pr.lda + k0;
        (kAvx512 ? gemm_panel_avx512 : gemm_panel_avx2)(pr.trans_a, mr, kk, ab, pr.lda,
                                                          pb + k0 * ldp, ldp, nc, c, pr.ldc,
                                                          acc, bias);
      }
    }
  }
}

bool usable() {
  return enabled().load(std::memory_order_relaxed) && gemm_packed_isa() >= 1;
}
// A transposed A with K >= 512 on AVX2 (a weight gradient dY^T X over 512 or more rows) is
// left to OpenBLAS: the regrouped 6 x 16 tiles ran it at 140-162 GFLOP/s on two Zen 3 cores
// against OpenBLAS's 150-186 (K 512-1024, 64-512 outputs; 155-170 in fixed blocks), and the
// gpt step went 42.1-42.4 -> 41.4-42.1 ms (alternating runs). Under K = 512 neither wins
// everywhere (the mlp's K = 128: 0.92-1.07). On AVX-512 the 8 x 32 tiles run it faster than
// OpenBLAS (benchmarks/kernels/gemm_panels.py).
constexpr int64_t kBlasTransAK = 512;
bool transposed_a_to_blas(bool trans_a, int64_t k) {
  return trans_a && k >= kBlasTransAK && gemm_packed_isa() == 1;
}

// Runs pr on all threads (threaded) or on the calling one.
void run(Problem& pr, bool threaded) {
  const bool avx512 = gemm_packed_isa() == 2;
  const int64_t npanels = (pr.N + NR - 1) / NR;
  const int64_t threads = threaded ? std::max<int64_t>(1, get_num_threads()) : 1;
  int64_t ranges = threads / std::gcd(npanels, threads);
  // Where B is read in place (so a panel costs nothing to share), about 16 items a thread with
  // at least 128 rows each: the last item then leaves the other threads waiting less (the gpt
  // step 2-3% faster). A packed panel would be packed again by every thread that takes a piece
  // of it, and rows under 128 lost more than they gained (the mlp step 4% slower at 64).
  if (threads > 1 && pr.b_cs == 1 && avx512) {
    ranges = std::max(ranges, (16 * threads + npanels - 1) / npanels);
    ranges = std::min(ranges, std::max<int64_t>(1, pr.M / 128));
  }
  // row ranges and blocks in whole micro-tiles (8 rows on AVX-512, 6 on AVX2)
  const int64_t mr = avx512 ? 8 : 6;
  pr.ranges = std::min<int64_t>(ranges, (pr.M + mr - 1) / mr);
  pr.rows_per = (((pr.M + pr.ranges - 1) / pr.ranges) + mr - 1) / mr * mr;
  pr.row_block = avx512 ? kRowBlock : kRowBlock / 6 * 6;
  const int64_t items = npanels * pr.ranges;
  // A transposed A on AVX2 is regrouped once per call: read in place its columns are lda apart,
  // the strided lines share a few L1 sets and every tile of every panel read them from L2 (the
  // weight gradient dY^T X ran at 70-80% of OpenBLAS's speed)
  thread_local std::vector<float> groups;
  if (!avx512 && pr.trans_a && pr.N >= 64) {
    const int64_t ng = (pr.M + 5) / 6, K = pr.K;
    if (groups.size() < size_t(ng * 6 * K)) groups.resize(size_t(ng * 6 * K));
    float* g = groups.data();
    // 16 values of k at a time (their 16 rows of A^T stay in L1 while every group takes its
    // six columns), each group's part written contiguously
    const int64_t kblocks = (K + 15) / 16;
    const auto fill = [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t k0 = b * 16, k1 = std::min(K, k0 + 16);
        for (int64_t q = 0; q < ng; ++q) {
          float* dst = g + q * 6 * K + k0 * 6;
          const float* src = pr.a + k0 * pr.lda;
          if (6 * q + 8 <= pr.M) {  // (eight floats of each row readable)
            group_rows_avx2(k1 - k0, src + 6 * q, pr.lda, dst);
            continue;
          }
          if (6 * q + 6 <= pr.M) {  // six neighbouring floats of each row of A^T
            for (int64_t k = k0; k < k1; ++k, src += pr.lda, dst += 6)
              std::memcpy(dst, src + 6 * q, 6 * sizeof(float));
            continue;
          }
          int64_t m[6];  // the last group's rows, the last repeated past M
          for (int i = 0; i < 6; ++i) m[i] = std::min(6 * q + i, pr.M - 1);
          for (int64_t k = k0; k < k1; ++k, src += pr.lda, dst += 6)
            for (int i = 0; i < 6; ++i) dst[i] = src[m[i]];
        }
      }
    };
    if (threaded) parallel_for(0, kblocks, std::max<int64_t>(1, 2048 / (ng * 6)), fill);
    else fill(0, kblocks);
    pr.a_groups = g;
  }
  const auto go = [&](const auto& next) {
    if (avx512) run_items<true>(pr, next);
    else run_items<false>(pr, next);
  };
  if (threaded) {
    parallel_items(0, items, go);
  } else {
    int64_t i = 0;
    go([&] { return i < items ? i++ : int64_t(-1); });
  }
}

}  // namespace

bool set_gemm_panels_enabled(bool on) { return enabled().exchange(on); }

bool gemm_panels_f32(const GemmSpec& s) {
  if (!usable()) return false;
  if (s.dtype != DType::Float32 || s.batch_numel != 1 || s.alpha != 1.0) return false;
  if (s.beta != 0.0 && s.beta != 1.0) return false;
  if (s.c_row != nullptr && s.c_row_stride != 1) return false;
  // from 8 on: a classifier's Linear(256, 10) of a 128-row batch ran 68-77 GFLOP/s here on
  // two threads, 37-51 through OpenBLAS
  if (s.m < 8 || s.n < 8 || s.k < 8) return false;
  // Every panel pass reads all of A: past a few MB it comes from memory each time, and
  // OpenBLAS's blocking of both operands wins (1024 x 1024: 197-199 against 200-204 GFLOP/s;
  // 2048 x 2048: 150-200 against 200-210).
  if (s.m * s.k > kMaxA) return false;
  // A's rows or its columns must be contiguous
  const bool trans_a = s.a_cs != 1 && s.a_rs == 1;
  if (s.a_cs != 1 && !trans_a) return false;
  if (transposed_a_to_blas(trans_a, s.k)) return false;
  Problem pr;
  pr.M = s.m;
  pr.N = s.n;
  pr.K = s.k;
  pr.a = reinterpret_cast<const float*>(s.a);
  pr.lda = trans_a ? s.a_cs : s.a_rs;
  pr.trans_a = trans_a;
  pr.b = reinterpret_cast<const float*>(s.b);
  pr.b_rs = s.b_rs;
  pr.b_cs = s.b_cs;
  pr.c = reinterpret_cast<float*>(s.c);
  pr.ldc = s.n;
  pr.bias = reinterpret_cast<const float*>(s.c_row);
  pr.accumulate = s.beta == 1.0 && pr.bias == nullptr;
  run(pr, true);
  return true;
}

bool gemm_panels_blas_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a,
                          int64_t lda, const float* b, int64_t ldb, bool accumulate, float* c,
                          int64_t ldc, bool threaded) {
  if (!usable() || m < 8 || n < 8 || k < 8 || m * k > kMaxA) return false;
  if (transposed_a_to_blas(ta, k)) return false;
  Problem pr;
  pr.M = m;
  pr.N = n;
  pr.K = k;
  pr.a = a;
  pr.lda = lda;
  pr.trans_a = ta;
  pr.b = b;
  pr.b_rs = tb ? 1 : ldb;
  pr.b_cs = tb ? ldb : 1;
  pr.c = c;
  pr.ldc = ldc;
  pr.accumulate = accumulate;
  run(pr, threaded);
  return true;
}

}  // namespace ranvier::cpu
