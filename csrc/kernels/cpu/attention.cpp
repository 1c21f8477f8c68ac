// CPU fused scaled dot-product attention kernels (see ops/attention.h).
// Work is split into blocks of kBlock query rows of one batch entry (head). Forward, per block:
// scores S = scale * Q_blk @ K^T (one GEMM, only the keys a causal block can see) plus the mask,
// an exact softmax per row (the whole key row is there), out_blk = P @ V (one GEMM) and
// lse_i = max_i + log(sum_i) (a row with no allowed key gives NaN output and lse = -inf).
// Backward, per head, query blocks in order, with P the forward's (AttnSpec::probs, small
// problems) or recomputed from lse, and D_i = dout_i.out_i:
//   dP = dout_blk @ V^T;  dS = P * (dP - D) * scale;  gq_blk = dS @ K
//   gk += dS^T @ Q_blk;   gv += P^T @ dout_blk
// Each head is handled by one thread (single-threaded GEMMs inside the parallel loop), and the
// block size is fixed, so results do not depend on the thread count.
#pragma GCC optimize("no-trapping-math")  // see kernels/cpu/fast_math.h
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/attention_layout.h"
#include "kernels/cpu/attention_rows.h"
#include "kernels/cpu/attention_small.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/vec_math.h"
#include "ops/attention.h"

namespace ranvier::cpu {

namespace {

constexpr int64_t kBlock = 64;

// The softmax of one row of scores, in place. Keys [0, jend) are allowed; the row has room for
// cap values (jend <= cap), all of which are written. The score of key j is row[j] * scale
// (scores() leaves the scaling to these passes when there is no mask). Forward (softmax_row):
// the probabilities, zeros past jend; returns the row's logsumexp, or -inf when no key is
// allowed (the row then all zeros). Backward (probs_row): exp(s - lse) from the saved
// logsumexp, zeros past jend. Float rows on AVX-512 and AVX2 CPUs take the intrinsics copies
// of attention_rows.h.
// Float rows are padded to whole 16-float vectors inside the row's room (past jend: -inf before
// the max, 0 after the exp) so that no part of them runs one element at a time; the max and the
// sum run in 16 lanes (j % 16) combined in a fixed order, so a result depends only on the row.
template <typename T>
T softmax_row(T* row, int64_t jend, int64_t cap, T scale) {
  const T ninf = -std::numeric_limits<T>::infinity();
  T m = ninf;
  for (int64_t j = 0; j < jend; ++j) m = std::max(m, row[j] *= scale);
  if (m == ninf) {
    std::fill(row, row + cap, T(0));
    return ninf;
  }
  T l = 0;
  for (int64_t j = 0; j < jend; ++j) {
    row[j] = std::exp(row[j] - m);
    l += row[j];
  }
  const T inv = T(1) / l;
  for (int64_t j = 0; j < jend; ++j) row[j] *= inv;
  std::fill(row + jend, row + cap, T(0));
  return m + std::log(l);
}
template <typename T>
void probs_row(T* row, int64_t jend, int64_t cap, T scale, T lse) {
  for (int64_t j = 0; j < jend; ++j) row[j] = std::exp(row[j] * scale - lse);
  std::fill(row + jend, row + cap, T(0));
}

typedef float Floats16 __attribute__((vector_size(64)));
RV_ALWAYS_INLINE int64_t padded(int64_t jend, int64_t cap) {
  return std::min(cap, (jend + 15) / 16 * 16);
}
// Combines 16 lanes pairwise (lane i with lane i + 8, then i + 4, ...): four dependent steps,
// not fifteen.
template <typename F>
RV_ALWAYS_INLINE float fold_lanes(const Floats16& v, const F& f) {
  float t[16];
  std::memcpy(t, &v, sizeof(t));
  for (int w = 8; w > 0; w /= 2)
    for (int i = 0; i < w; ++i) t[i] = f(t[i], t[i + w]);
  return t[0];
}
RV_ALWAYS_INLINE float lanes_max(const float* x, int64_t n) {
  const float ninf = -std::numeric_limits<float>::infinity();
  Floats16 m = {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf,
                ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    Floats16 v;
    std::memcpy(&v, x + j, sizeof(v));
    m = v > m ? v : m;
  }
  float r = fold_lanes(m, [](float a, float b) { return b > a ? b : a; });
  for (; j < n; ++j) r = x[j] > r ? x[j] : r;
  return r;
}
RV_ALWAYS_INLINE float lanes_sum(const float* x, int64_t n) {
  Floats16 acc = {};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    Floats16 v;
    std::memcpy(&v, x + j, sizeof(v));
    acc += v;
  }
  float r = fold_lanes(acc, [](float a, float b) { return a + b; });
  for (; j < n; ++j) r += x[j];
  return r;
}
RV_ALWAYS_INLINE float softmax_row_f(float* row, int64_t jend, int64_t cap, float scale) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const int64_t w = padded(jend, cap);
  for (int64_t j = 0; j < jend; ++j) row[j] *= scale;
  for (int64_t j = jend; j < w; ++j) row[j] = ninf;
  const float m = lanes_max(row, w);
  if (m == ninf) {
    std::fill(row, row + cap, 0.0f);
    return ninf;
  }
  for (int64_t j = 0; j < w; ++j) row[j] = exp_f(row[j] - m);  // vectorises
  for (int64_t j = jend; j < w; ++j) row[j] = 0.0f;
  const float l = lanes_sum(row, w);
  const float inv = 1.0f / l;
  for (int64_t j = 0; j < w; ++j) row[j] *= inv;
  std::fill(row + w, row + cap, 0.0f);
  return m + vm::log(l);
}
RV_ALWAYS_INLINE void probs_row_f(float* row, int64_t jend, int64_t cap, float scale,
                                  float lse) {
  const int64_t w = padded(jend, cap);
  for (int64_t j = 0; j < w; ++j) row[j] = exp_f(row[j] * scale - lse);
  std::fill(row + jend, row + cap, 0.0f);
}
// A block's n rows (row r is query i0 + r, keys [0, jend(r)) allowed) in one call: per row, a
// call through the load-time dispatch and the function's set-up cost as much as a 64-key row.
RV_ALWAYS_INLINE int64_t row_keys(int64_t i, bool causal, int64_t s) {
  return causal ? std::min(s, i + 1) : s;
}
RV_MULTIVERSION void softmax_rows_f(float* sc, int64_t n, int64_t se, int64_t i0, bool causal,
                                    int64_t s, float scale, float* lse) {
  for (int64_t r = 0; r < n; ++r)
    lse[r] = softmax_row_f(sc + r * se, row_keys(i0 + r, causal, s), se, scale);
}
RV_MULTIVERSION void probs_rows_f(float* P, int64_t n, int64_t se, int64_t i0, bool causal,
                                  int64_t s, float scale, const float* lse) {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < n; ++r)
    probs_row_f(P + r * se, lse[r] == ninf ? 0 : row_keys(i0 + r, causal, s), se, scale,
                lse[r]);
}
std::atomic<bool>& rows_vector_enabled() {
  static std::atomic<bool> on{true};
  return on;
}
// Which hand-written copy of the float row passes runs (attention_rows.h), if any.
enum class RowPasses { Portable, Avx2, Avx512 };
RowPasses row_passes() {
  static const RowPasses best = attention_rows_avx512_usable() ? RowPasses::Avx512
                                : attention_rows_avx2_usable() ? RowPasses::Avx2
                                                               : RowPasses::Portable;
  return rows_vector_enabled().load(std::memory_order_relaxed) ? best : RowPasses::Portable;
}
// sum_c a[c] * b[c] (the backward's D_i = dout_i . out_i): float in 16 lanes, folded pairwise.
template <typename T>
T row_dot(const T* a, const T* b, int64_t n) {
  T d = 0;
  for (int64_t c = 0; c < n; ++c) d += a[c] * b[c];
  return d;
}
RV_ALWAYS_INLINE float row_dot_f(const float* a, const float* b, int64_t n) {
  Floats16 acc = {};
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    Floats16 x, y;
    std::memcpy(&x, a + c, sizeof(x));
    std::memcpy(&y, b + c, sizeof(y));
    acc += x * y;
  }
  float r = fold_lanes(acc, [](float u, float v) { return u + v; });
  for (; c < n; ++c) r += a[c] * b[c];
  return r;
}
template <>
float row_dot<float>(const float* a, const float* b, int64_t n) {
  return row_dot_f(a, b, n);
}

// dS = P o (dP - D) * scale over a block's rows, D_r = dout_r . out_r (0 for a row with no
// allowed key); rows [0, h) have keys [0, se0) only, the rest of their room is zeroed.
template <typename T>
RV_ALWAYS_INLINE void ds_rows_impl(const T* P, T* dP, int64_t n, int64_t se, int64_t h,
                                   int64_t se0, const T* g, int64_t gs, const T* out,
                                   int64_t os, int64_t ev, const T* lse, T scale) {
  const T ninf = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < n; ++r) {
    const T d = lse[r] != ninf ? row_dot<T>(g + r * gs, out + r * os, ev) : T(0);
    const T* pr = P + r * se;
    T* dr = dP + r * se;
    const int64_t jn = r < h ? se0 : se;
    for (int64_t j = 0; j < jn; ++j) dr[j] = pr[j] * (dr[j] - d) * scale;
    std::fill(dr + jn, dr + se, T(0));
  }
}
template <typename T>
void ds_rows(const T* P, T* dP, int64_t n, int64_t se, int64_t h, int64_t se0, const T* g,
             int64_t gs, const T* out, int64_t os, int64_t ev, const T* lse, T scale) {
  ds_rows_impl<T>(P, dP, n, se, h, se0, g, gs, out, os, ev, lse, scale);
}
RV_MULTIVERSION void ds_rows_f(const float* P, float* dP, int64_t n, int64_t se, int64_t h,
                               int64_t se0, const float* g, int64_t gs, const float* out,
                               int64_t os, int64_t ev, const float* lse, float scale) {
  ds_rows_impl<float>(P, dP, n, se, h, se0, g, gs, out, os, ev, lse, scale);
}
template <>
void ds_rows<float>(const float* P, float* dP, int64_t n, int64_t se, int64_t h, int64_t se0,
                    const float* g, int64_t gs, const float* out, int64_t os, int64_t ev,
                    const float* lse, float scale) {
  switch (row_passes()) {
    case RowPasses::Avx512:
      return attn_ds_rows_avx512(P, dP, n, se, h, se0, g, gs, out, os, ev, lse, scale);
    case RowPasses::Avx2:
      return attn_ds_rows_avx2(P, dP, n, se, h, se0, g, gs, out, os, ev, lse, scale);
    default:
      return ds_rows_f(P, dP, n, se, h, se0, g, gs, out, os, ev, lse, scale);
  }
}

template <typename T>
void softmax_rows(T* sc, int64_t n, int64_t se, int64_t i0, bool causal, int64_t s, T scale,
                  T* lse) {
  for (int64_t r = 0; r < n; ++r)
    lse[r] = softmax_row<T>(sc + r * se, row_keys(i0 + r, causal, s), se, scale);
}
template <typename T>
void probs_rows(T* P, int64_t n, int64_t se, int64_t i0, bool causal, int64_t s, T scale,
                const T* lse) {
  const T ninf = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < n; ++r)
    probs_row<T>(P + r * se, lse[r] == ninf ? 0 : row_keys(i0 + r, causal, s), se, scale,
                 lse[r]);
}
template <>
void softmax_rows<float>(float* sc, int64_t n, int64_t se, int64_t i0, bool causal, int64_t s,
                         float scale, float* lse) {
  switch (row_passes()) {
    case RowPasses::Avx512: return attn_softmax_rows_avx512(sc, n, se, i0, causal, s, scale, lse);
    case RowPasses::Avx2: return attn_softmax_rows_avx2(sc, n, se, i0, causal, s, scale, lse);
    default: return softmax_rows_f(sc, n, se, i0, causal, s, scale, lse);
  }
}
template <>
void probs_rows<float>(float* P, int64_t n, int64_t se, int64_t i0, bool causal, int64_t s,
                       float scale, const float* lse) {
  switch (row_passes()) {
    case RowPasses::Avx512: return attn_probs_rows_avx512(P, n, se, i0, causal, s, scale, lse);
    case RowPasses::Avx2: return attn_probs_rows_avx2(P, n, se, i0, causal, s, scale, lse);
    default: return probs_rows_f(P, n, se, i0, causal, s, scale, lse);
  }
}

// C = scale * op(A) @ op(B) (+ C when beta is 1; the scale is 1 then), through cpu::gemm:
// empty products handled there, float on the panel kernel (serial inside the head loop's
// parallel region), the scale applied to the result (one rounding, as BLAS's alpha).
template <typename T>
void mm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double scale, const T* a, int64_t lda,
        const T* b, int64_t ldb, double beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  gemm<T>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
  if (scale != 1.0)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] *= T(scale);
}

// Runs f(i, i + 1) for the items i of [0, n): handed out one at a time to the threads, each
// running its GEMMs single-threaded, when there are enough items for the threads; else
// f(0, n) with multi-threaded GEMMs.
template <typename F>
void for_items(int64_t n, const F& f) {
  if (n >= 2 && get_num_threads() > 1 && !in_parallel_region()) {
    parallel_items(0, n, [&](const auto& next) {
      for (int64_t i = next(); i >= 0; i = next()) f(i, i + 1);
    });
  } else {
    f(0, n);
  }
}

// A causal block of n query rows from i0 whose rows see keys [0, se) is computed in two parts:
// rows [0, h) see only keys [0, se0), rows [h, n) all se. The products skip what the first
// part's rows cannot see (a quarter of a 64-row block starting at 0); those score entries are
// never read, and the probabilities there are zero.
struct Parts {
  int64_t h, se0;
};
constexpr int64_t kHalf = kBlock / 2;
Parts causal_parts(const AttnSpec& p, int64_t i0, int64_t n, int64_t se) {
  if (!p.causal || n <= kHalf) return {n, se};
  return {kHalf, std::min(se, i0 + kHalf)};
}

// Raw scores of query rows i0..i0+n of head b into sc (row stride se), row r over keys
// [0, r < parts.h ? parts.se0 : se): q.k, or with a mask scale q.k plus the mask. Returns the
// scale the row passes still apply (p.scale without a mask, else 1).
template <typename T>
T scores(const AttnSpec& p, int64_t b, int64_t i0, int64_t n, int64_t se, Parts parts, T* sc) {
  const int64_t qs = attn_row_stride(p, p.sq, p.e), ks = attn_row_stride(p, p.sk, p.e);
  const T* q = static_cast<const T*>(p.q) + attn_entry(p, p.sq, b, p.l * p.e) + i0 * qs;
  const T* k = static_cast<const T*>(p.k) + attn_entry(p, p.sk, b, p.s * p.e);
  const T* mask = static_cast<const T*>(p.mask);
  const double scale = mask ? p.scale : 1.0;
  mm<T>(false, true, parts.h, parts.se0, p.e, scale, q, qs, k, ks, 0.0, sc, se);
  mm<T>(false, true, n - parts.h, se, p.e, scale, q + parts.h * qs, qs, k, ks, 0.0,
            sc + parts.h * se, se);
  if (!mask) return T(p.scale);
  const T* mb = mask + (p.nbatch == 0 ? b * p.mb : attn_entry(p, p.smask, b, 0));
  for (int64_t r = 0; r < n; ++r) {
    const int64_t i = i0 + r;
    T* row = sc + r * se;
    const int64_t jn = r < parts.h ? parts.se0 : se;
    for (int64_t j = 0; j < jn; ++j) row[j] += mb[i * p.ml + j * p.ms];
  }
  return T(1);
}

// Scratch rows of the calling thread (slot 0 or 1), at least n elements, kept from call to call:
// a vector per work item cost an allocation and a zero-fill of 16 KB each time.
template <typename T>
T* scratch(int slot, int64_t n) {
  thread_local std::vector<T> bufs[2];
  if (bufs[slot].size() < size_t(n)) bufs[slot].resize(size_t(n));
  return bufs[slot].data();
}

// Whether the short-sequence AVX2 kernels take p (Note [Small-head attention on AVX2]): only
// where the AVX2 row passes are the ones in use, whose functions they call.
bool small_avx2(const AttnSpec& p, bool forward) {
  if (row_passes() != RowPasses::Avx2) return false;
  return forward ? attn_small_forward_avx2(p) : attn_small_backward_avx2(p);
}

template <typename T>
void sdpa_forward(const AttnSpec& p) {
  if (std::is_same_v<T, float> && small_avx2(p, true)) return;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T ninf = -std::numeric_limits<T>::infinity();
  const int64_t nblk = (p.l + kBlock - 1) / kBlock;
  for_items(p.b * nblk, [&](int64_t it0, int64_t it1) {
    for (int64_t it = it0; it < it1; ++it) {
      const int64_t b = it / nblk, i0 = (it % nblk) * kBlock;
      const int64_t n = std::min(kBlock, p.l - i0);
      const int64_t se = p.causal ? std::min(p.s, i0 + n) : p.s;
      const int64_t os = attn_row_stride(p, p.sout, p.ev);
      T* out = static_cast<T*>(p.out) + attn_entry(p, p.sout, b, p.l * p.ev) + i0 * os;
      T* lse = static_cast<T*>(p.lse) + b * p.l + i0;
      // probabilities kept for the backward (rows of s; the backward reads [0, se)) are
      // computed in place when a block's rows see every key
      T* kept = p.probs ? static_cast<T*>(p.probs) + (b * p.l + i0) * p.s : nullptr;
      T* sc = kept && se == p.s ? kept : scratch<T>(0, n * std::max<int64_t>(se, 1));
      const Parts parts = causal_parts(p, i0, n, se);
      const T rs = se > 0 ? scores<T>(p, b, i0, n, se, parts, sc) : T(1);
      softmax_rows<T>(sc, n, se, i0, p.causal, p.s, rs, lse);
      if (kept && sc != kept)  // (zeros past se: the short-head backward reads whole rows)
        for (int64_t r = 0; r < n; ++r) {
          std::memcpy(kept + r * p.s, sc + r * se, size_t(se) * sizeof(T));
          std::fill(kept + r * p.s + se, kept + (r + 1) * p.s, T(0));
        }
      if (p.ev > 0) {
        if (se > 0) {
          const T* v = static_cast<const T*>(p.v) + attn_entry(p, p.sv, b, p.s * p.ev);
          const int64_t vs = attn_row_stride(p, p.sv, p.ev);
          mm<T>(false, false, parts.h, p.ev, parts.se0, 1.0, sc, se, v, vs, 0.0, out,
                    os);
          mm<T>(false, false, n - parts.h, p.ev, se, 1.0, sc + parts.h * se, se, v,
                    vs, 0.0, out + parts.h * os, os);
        }
        for (int64_t r = 0; r < n; ++r)  // a row without keys
          if (lse[r] == ninf) std::fill(out + r * os, out + r * os + p.ev, nan);
      }
    }
  });
}

template <typename T>
void sdpa_backward(const AttnSpec& p) {
  if (std::is_same_v<T, float> && small_avx2(p, false)) return;
  T* gq = static_cast<T*>(p.gq);
  T* gk = static_cast<T*>(p.gk);
  T* gv = static_cast<T*>(p.gv);
  const int64_t qs = attn_row_stride(p, p.sq, p.e), ks = attn_row_stride(p, p.sk, p.e),
                vs = attn_row_stride(p, p.sv, p.ev), os = attn_row_stride(p, p.sout, p.ev),
                gs = attn_row_stride(p, p.sgrad, p.ev), gqs = attn_row_stride(p, p.sgq, p.e),
                gks = attn_row_stride(p, p.sgk, p.e), gvs = attn_row_stride(p, p.sgv, p.ev);
  // the gradients come unset (AttnSpec): zero what is accumulated or may be skipped
  auto zero_rows = [](T* m, int64_t rows, int64_t cols, int64_t rs) {
    for (int64_t r = 0; r < rows; ++r) std::fill(m + r * rs, m + r * rs + cols, T(0));
  };
  for_items(p.b, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T* kb = static_cast<const T*>(p.k) + attn_entry(p, p.sk, b, p.s * p.e);
      const T* vb = static_cast<const T*>(p.v) + attn_entry(p, p.sv, b, p.s * p.ev);
      T* gkb = gk ? gk + attn_entry(p, p.sgk, b, p.s * p.e) : nullptr;
      T* gvb = gv ? gv + attn_entry(p, p.sgv, b, p.s * p.ev) : nullptr;
      T* gqb0 = gq ? gq + attn_entry(p, p.sgq, b, p.l * p.e) : nullptr;
      // the first block writes gk and gv for the keys it sees, later ones add to them; keys
      // no block has seen by then start from zero
      const int64_t seen = p.causal ? std::min(p.s, std::min(kBlock, p.l)) : p.s;
      if (gkb) zero_rows(gkb + seen * gks, p.s - seen, p.e, gks);
      if (gvb) zero_rows(gvb + seen * gvs, p.s - seen, p.ev, gvs);
      // (every row of gq is written by its block's product when there are keys)
      if (gqb0 && p.s == 0) zero_rows(gqb0, p.l, p.e, gqs);
      const T* q0 = static_cast<const T*>(p.q) + attn_entry(p, p.sq, b, p.l * p.e);
      const T* g0 = static_cast<const T*>(p.grad) + attn_entry(p, p.sgrad, b, p.l * p.ev);
      const T* out0 = static_cast<const T*>(p.out) + attn_entry(p, p.sout, b, p.l * p.ev);
      for (int64_t i0 = 0; i0 < p.l; i0 += kBlock) {
        const int64_t n = std::min(kBlock, p.l - i0);
        const int64_t se = p.causal ? std::min(p.s, i0 + n) : p.s;
        if (se == 0) continue;
        const T* qb = q0 + i0 * qs;
        const T* g = g0 + i0 * gs;
        const T* out = out0 + i0 * os;
        const T* lse = static_cast<const T*>(p.lse) + b * p.l + i0;

        const Parts pt = causal_parts(p, i0, n, se);
        const int64_t h = pt.h, se0 = pt.se0, rest = n - h;
        const double acc = i0 == 0 ? 0.0 : 1.0;  // the two parts cover disjoint keys
        T* dP = scratch<T>(1, n * se);
        // the forward's probabilities (read in place when their rows are se apart), else
        // recomputed from the scores and lse
        const T* kept = p.probs ? static_cast<const T*>(p.probs) + (b * p.l + i0) * p.s : nullptr;
        const T* P = kept && se == p.s ? kept : nullptr;
        if (!P) {
          T* buf = scratch<T>(0, n * se);
          if (kept) {
            for (int64_t r = 0; r < n; ++r)
              std::memcpy(buf + r * se, kept + r * p.s, size_t(se) * sizeof(T));
          } else {
            const T rs = scores<T>(p, b, i0, n, se, pt, buf);
            probs_rows<T>(buf, n, se, i0, p.causal, p.s, rs, lse);
          }
          P = buf;
        }
        // gv += P^T g: keys [0, se0) from every row, keys [se0, se) from rows [h, n) only
        if (gvb) {
          mm<T>(true, false, se0, p.ev, n, 1.0, P, se, g, gs, acc, gvb, gvs);
          mm<T>(true, false, se - se0, p.ev, rest, 1.0, P + h * se + se0, se, g + h * gs, gs,
                    acc, gvb + se0 * gvs, gvs);
        }
        if (!gq && !gkb) continue;
        mm<T>(false, true, h, se0, p.ev, 1.0, g, gs, vb, vs, 0.0, dP, se);  // dP = g V^T
        mm<T>(false, true, rest, se, p.ev, 1.0, g + h * gs, gs, vb, vs, 0.0, dP + h * se,
                  se);
        ds_rows<T>(P, dP, n, se, h, se0, g, gs, out, os, p.ev, lse, T(p.scale));
        if (p.e == 0) continue;
        if (gq) {  // gq = dS K
          T* gqb = gqb0 + i0 * gqs;
          mm<T>(false, false, h, p.e, se0, 1.0, dP, se, kb, ks, 0.0, gqb, gqs);
          mm<T>(false, false, rest, p.e, se, 1.0, dP + h * se, se, kb, ks, 0.0,
                    gqb + h * gqs, gqs);
        }
        if (gkb) {  // gk += dS^T q, split by keys like gv
          mm<T>(true, false, se0, p.e, n, 1.0, dP, se, qb, qs, acc, gkb, gks);
          mm<T>(true, false, se - se0, p.e, rest, 1.0, dP + h * se + se0, se, qb + h * qs,
                    qs, acc, gkb + se0 * gks, gks);
        }
      }
    }
  });
}

void sdpa_forward_cpu(const AttnSpec& s) {
  if (s.dtype == DType::Float64) sdpa_forward<double>(s);
  else sdpa_forward<float>(s);
}
void sdpa_backward_cpu(const AttnSpec& s) {
  if (s.dtype == DType::Float64) sdpa_backward<double>(s);
  else sdpa_backward<float>(s);
}

}  // namespace

bool set_attention_rows_vector_enabled(bool on) { return rows_vector_enabled().exchange(on); }

void register_attention_cpu() {
  sdpa_forward_kernel.set(DeviceType::CPU, &sdpa_forward_cpu);
  sdpa_backward_kernel.set(DeviceType::CPU, &sdpa_backward_cpu);
}

}  // namespace ranvier::cpu
