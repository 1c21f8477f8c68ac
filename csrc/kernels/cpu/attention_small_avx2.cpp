// Short-sequence float32 attention on AVX2 CPUs: Note [Small-head attention on AVX2] in
// attention_small.h.
#include "kernels/cpu/attention_small.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/attention_layout.h"
#include "kernels/cpu/attention_rows.h"
#include "kernels/cpu/gemm_packed.h"
#include "kernels/cpu/transpose_avx2.h"

namespace ranvier::cpu {

namespace {

constexpr int64_t kSmallMaxKeys = 256;
constexpr int64_t kSmallMaxDim = 128;
constexpr int64_t kSmallMaxQueries = 1024;
constexpr int64_t kRows = 6;  // query rows (or keys) a step: an AVX2 tile's rows
constexpr int64_t kPanel = 32;  // columns a gemm_panel_avx2 call takes at most

std::atomic<bool>& enabled() {
  static std::atomic<bool> on{true};
  return on;
}
std::atomic<int64_t>& runs() {
  static std::atomic<int64_t> n{0};
  return n;
}

bool applies(const AttnSpec& p) {
  return enabled().load(std::memory_order_relaxed) && p.dtype == DType::Float32 &&
         p.mask == nullptr && gemm_packed_isa() == 1 && p.l > 0 && p.s > 0 && p.e > 0 &&
         p.ev > 0 && p.s <= kSmallMaxKeys && p.e <= kSmallMaxDim && p.ev <= kSmallMaxDim &&
         p.l <= kSmallMaxQueries;
}

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

// Per-thread buffers, kept from call to call.
float* scratch(int slot, int64_t n) {
  thread_local std::vector<float> bufs[6];
  if (bufs[slot].size() < size_t(n)) bufs[slot].resize(size_t(n));
  return bufs[slot].data();
}

// dst row r (ld floats) = src row r (cols floats, rows rs apart), zero past cols.
void copy_rows(const float* src, int64_t rows, int64_t cols, int64_t rs, float* dst,
               int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(dst + r * ld, src + r * rs, size_t(cols) * sizeof(float));
    std::fill(dst + r * ld + cols, dst + (r + 1) * ld, 0.0f);
  }
}

// dst[c][r] = src[r][c] (dst rows ld floats, zero past rows); 8 x 8 register transposes.
void transpose_rows(const float* src, int64_t rows, int64_t cols, int64_t rs, float* dst,
                    int64_t ld) {
  const int64_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
  for (int64_t r = 0; r < r8; r += 8)
    for (int64_t c = 0; c < c8; c += 8) transpose8(src + r * rs + c, rs, dst + c * ld + r, ld);
  for (int64_t c = 0; c < cols; ++c) {
    float* d = dst + c * ld;
    for (int64_t r = c < c8 ? r8 : 0; r < rows; ++r) d[r] = src[r * rs + c];
    std::fill(d + rows, d + ld, 0.0f);
  }
}

// C (mr rows, ldc) = A (mr rows of K, lda; or A^T when trans_a) @ B[:, 0..n) (rows ldb apart,
// readable to a multiple of 16 columns), in gemm_panel_avx2 calls of at most 32 columns.
void product(bool trans_a, int64_t mr, int64_t K, const float* a, int64_t lda, const float* b,
             int64_t ldb, int64_t n, float* c, int64_t ldc) {
  for (int64_t c0 = 0, nc = 0; c0 < n; c0 += nc) {
    nc = std::min(kPanel, n - c0);
    // a last call of at most four columns would take the kernel that runs down the rows, made
    // for products of many rows: leave it 16 more
    if (n - c0 - nc > 0 && n - c0 - nc <= kNarrowAvx2) nc -= 16;
    gemm_panel_avx2(trans_a, mr, K, a, lda, b + c0, ldb, nc, c + c0, ldc, false, nullptr);
  }
}

// The keys a group of rows [g0, g0 + mr) needs: those its last row may see.
int64_t group_keys(const AttnSpec& p, int64_t g0, int64_t mr) {
  return p.causal ? std::min(p.s, g0 + mr) : p.s;
}

// f(b, nb) for each head b, where nb is the head the same thread takes next (-1 for none), so
// that f can fetch nb's rows while it computes b (Note [Fetching the next head]).
template <typename F>
void for_heads(int64_t n, const F& f) {
  parallel_items(0, n, [&](const auto& next) {
    for (int64_t b = next(), nb = -1; b >= 0; b = nb) {
      nb = next();
      f(b, nb);
    }
  });
}

// Rows of the operands of the head a thread takes next, fetched toward L1 in `steps` shares
// while it computes the current one (Note [Fetching the next head]).
class NextHead {
  // (asm, not _mm_prefetch: GCC may delete a loop of prefetch builtins alone, C++ loops being
  // taken to end, and a prefetch not counting as an effect)
  static void touch(const char* p, bool write) {
    if (write)
      asm volatile("prefetchw %0" : : "m"(*p));
    else
      asm volatile("prefetcht0 %0" : : "m"(*p));
  }

 public:
  explicit NextHead(int64_t steps) : steps_(std::max<int64_t>(steps, 1)) {}
  // rows n of cols floats, rs apart, from base; write: rows the kernel will write
  void add(const void* base, int64_t n, int64_t cols, int64_t rs, bool write = false) {
    if (count_ == kMaxOps) return;
    ops_[count_++] = {static_cast<const char*>(base), n, (n + steps_ - 1) / steps_,
                      cols * int64_t(sizeof(float)), rs * int64_t(sizeof(float)), write};
  }
  // Share i: rows [i * per, (i + 1) * per) of each operand, per = n / steps rounded up.
  void fetch(int64_t i) const {
    for (int o = 0; o < count_; ++o) {
      const Op& op = ops_[o];
      for (int64_t r = i * op.per, r1 = std::min(op.n, r + op.per); r < r1; ++r) {
        const uintptr_t row = reinterpret_cast<uintptr_t>(op.base + r * op.stride);
        // each 64-byte line the row overlaps
        for (uintptr_t a = row & ~uintptr_t(63); a < row + uintptr_t(op.bytes); a += 64)
          touch(reinterpret_cast<const char*>(a), op.write);
      }
    }
  }

 private:
  struct Op {
    const char* base;
    int64_t n, per, bytes, stride;
    bool write;
  };
  static constexpr int kMaxOps = 5;  // a head's most operands (the backward's query rows)
  int64_t steps_;
  Op ops_[kMaxOps];
  int count_ = 0;
};

void forward_head(const AttnSpec& p, int64_t b, int64_t nb) {
  const int64_t l = p.l, s = p.s, e = p.e, ev = p.ev;
  const int64_t s16 = round16(s), ev16 = round16(ev);
  const int64_t qs = attn_row_stride(p, p.sq, e), ks = attn_row_stride(p, p.sk, e),
                vs = attn_row_stride(p, p.sv, ev), os = attn_row_stride(p, p.sout, ev);
  const float* q = static_cast<const float*>(p.q) + attn_entry(p, p.sq, b, l * e);
  const float* k = static_cast<const float*>(p.k) + attn_entry(p, p.sk, b, s * e);
  const float* v = static_cast<const float*>(p.v) + attn_entry(p, p.sv, b, s * ev);
  float* out = static_cast<float*>(p.out) + attn_entry(p, p.sout, b, l * ev);
  float* lse = static_cast<float*>(p.lse) + b * l;
  float* kept = p.probs ? static_cast<float*>(p.probs) + b * l * s : nullptr;
  float* kt = scratch(0, e * s16);  // K^T
  float* vp = scratch(1, s * ev16);
  transpose_rows(k, s, e, ks, kt, s16);
  copy_rows(v, s, ev, vs, vp, ev16);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float ninf = -std::numeric_limits<float>::infinity();
  NextHead next((l + kRows - 1) / kRows);
  if (nb >= 0) {
    next.add(static_cast<const float*>(p.q) + attn_entry(p, p.sq, nb, l * e), l, e, qs);
    next.add(static_cast<const float*>(p.k) + attn_entry(p, p.sk, nb, s * e), s, e, ks);
    next.add(static_cast<const float*>(p.v) + attn_entry(p, p.sv, nb, s * ev), s, ev, vs);
    next.add(static_cast<const float*>(p.out) + attn_entry(p, p.sout, nb, l * ev), l, ev, os,
             true);
    if (kept) next.add(static_cast<const float*>(p.probs) + nb * l * s, l, s, s, true);
  }
  for (int64_t g0 = 0; g0 < l; g0 += kRows) {
    const int64_t mr = std::min(kRows, l - g0), nk = group_keys(p, g0, mr);
    next.fetch(g0 / kRows);
    // the group's scores, then probabilities: rows of the kept block or of a scratch block
    float* sc = kept ? kept + g0 * s : scratch(2, kRows * s);
    product(false, mr, e, q + g0 * qs, qs, kt, s16, nk, sc, s);
    attn_softmax_rows_avx2(sc, mr, s, g0, p.causal, s, float(p.scale), lse + g0);
    product(false, mr, nk, sc, s, vp, ev16, ev, out + g0 * os, os);
    for (int64_t r = 0; r < mr; ++r)  // a row without keys
      if (lse[g0 + r] == ninf) std::fill(out + (g0 + r) * os, out + (g0 + r) * os + ev, nan);
  }
}

void backward_head(const AttnSpec& p, int64_t b, int64_t nb) {
  const int64_t l = p.l, s = p.s, e = p.e, ev = p.ev;
  const int64_t s16 = round16(s), e16 = round16(e), ev16 = round16(ev);
  const int64_t qs = attn_row_stride(p, p.sq, e), ks = attn_row_stride(p, p.sk, e),
                vs = attn_row_stride(p, p.sv, ev), os = attn_row_stride(p, p.sout, ev),
                gs = attn_row_stride(p, p.sgrad, ev), gqs = attn_row_stride(p, p.sgq, e),
                gks = attn_row_stride(p, p.sgk, e), gvs = attn_row_stride(p, p.sgv, ev);
  const float* q = static_cast<const float*>(p.q) + attn_entry(p, p.sq, b, l * e);
  const float* k = static_cast<const float*>(p.k) + attn_entry(p, p.sk, b, s * e);
  const float* v = static_cast<const float*>(p.v) + attn_entry(p, p.sv, b, s * ev);
  const float* out = static_cast<const float*>(p.out) + attn_entry(p, p.sout, b, l * ev);
  const float* g = static_cast<const float*>(p.grad) + attn_entry(p, p.sgrad, b, l * ev);
  const float* lse = static_cast<const float*>(p.lse) + b * l;
  const float* P = static_cast<const float*>(p.probs) + b * l * s;
  float* gq = p.gq ? static_cast<float*>(p.gq) + attn_entry(p, p.sgq, b, l * e) : nullptr;
  float* gk = p.gk ? static_cast<float*>(p.gk) + attn_entry(p, p.sgk, b, s * e) : nullptr;
  float* gv = p.gv ? static_cast<float*>(p.gv) + attn_entry(p, p.sgv, b, s * ev) : nullptr;
  // the next head's query rows (over the query groups) and key rows (over the key groups)
  NextHead next_q((l + kRows - 1) / kRows), next_k((s + kRows - 1) / kRows);
  if (nb >= 0) {
    next_q.add(static_cast<const float*>(p.q) + attn_entry(p, p.sq, nb, l * e), l, e, qs);
    next_q.add(static_cast<const float*>(p.out) + attn_entry(p, p.sout, nb, l * ev), l, ev, os);
    next_q.add(static_cast<const float*>(p.grad) + attn_entry(p, p.sgrad, nb, l * ev), l, ev,
               gs);
    next_q.add(static_cast<const float*>(p.probs) + nb * l * s, l, s, s);
    if (gq)
      next_q.add(static_cast<float*>(p.gq) + attn_entry(p, p.sgq, nb, l * e), l, e, gqs, true);
    next_k.add(static_cast<const float*>(p.k) + attn_entry(p, p.sk, nb, s * e), s, e, ks);
    next_k.add(static_cast<const float*>(p.v) + attn_entry(p, p.sv, nb, s * ev), s, ev, vs);
    if (gk)
      next_k.add(static_cast<float*>(p.gk) + attn_entry(p, p.sgk, nb, s * e), s, e, gks, true);
    if (gv)
      next_k.add(static_cast<float*>(p.gv) + attn_entry(p, p.sgv, nb, s * ev), s, ev, gvs,
                 true);
  }
  float* gp = scratch(0, l * ev16);  // dO
  copy_rows(g, l, ev, gs, gp, ev16);
  // dS = P o (dP - D) * scale, dP = dO V^T, a query group at a time; gq = dS K
  float* ds = nullptr;
  if (gq || gk) {
    float* vt = scratch(1, ev * s16);  // V^T
    float* kp = scratch(2, s * e16);
    ds = scratch(3, l * s);
    transpose_rows(v, s, ev, vs, vt, s16);
    copy_rows(k, s, e, ks, kp, e16);
    for (int64_t g0 = 0; g0 < l; g0 += kRows) {
      const int64_t mr = std::min(kRows, l - g0), nk = group_keys(p, g0, mr);
      next_q.fetch(g0 / kRows);
      float* d = ds + g0 * s;
      product(false, mr, ev, gp + g0 * ev16, ev16, vt, s16, nk, d, s);
      attn_ds_rows_avx2(P + g0 * s, d, mr, s, mr, nk, g + g0 * gs, gs, out + g0 * os, os, ev,
                        lse + g0, float(p.scale));
      if (gq) product(false, mr, nk, d, s, kp, e16, e, gq + g0 * gqs, gqs);
    }
  }
  // gv = P^T dO and gk = dS^T Q, six keys at a time over the queries that may see them
  float* qp = gk ? scratch(4, l * e16) : nullptr;
  if (qp) copy_rows(q, l, e, qs, qp, e16);
  for (int64_t j0 = 0; j0 < s; j0 += kRows) {
    const int64_t mr = std::min(kRows, s - j0);
    next_k.fetch(j0 / kRows);
    const int64_t i0 = p.causal ? std::min(j0, l) : 0;  // queries before j0 see none of them
    const int64_t nq = l - i0;
    if (nq == 0) {
      for (int64_t r = 0; r < mr; ++r) {
        if (gv) std::fill(gv + (j0 + r) * gvs, gv + (j0 + r) * gvs + ev, 0.0f);
        if (gk) std::fill(gk + (j0 + r) * gks, gk + (j0 + r) * gks + e, 0.0f);
      }
      continue;
    }
    if (gv)
      product(true, mr, nq, P + i0 * s + j0, s, gp + i0 * ev16, ev16, ev, gv + j0 * gvs, gvs);
    if (gk)
      product(true, mr, nq, ds + i0 * s + j0, s, qp + i0 * e16, e16, e, gk + j0 * gks, gks);
  }
}

}  // namespace

bool attn_small_forward_avx2(const AttnSpec& p) {
  if (!applies(p)) return false;
  runs().fetch_add(1, std::memory_order_relaxed);
  for_heads(p.b, [&](int64_t b, int64_t nb) { forward_head(p, b, nb); });
  return true;
}

bool attn_small_backward_avx2(const AttnSpec& p) {
  if (!applies(p) || p.probs == nullptr) return false;
  runs().fetch_add(1, std::memory_order_relaxed);
  for_heads(p.b, [&](int64_t b, int64_t nb) { backward_head(p, b, nb); });
  return true;
}

bool set_attention_small_enabled(bool on) { return enabled().exchange(on); }

int64_t attention_small_runs() { return runs().load(std::memory_order_relaxed); }

}  // namespace ranvier::cpu
