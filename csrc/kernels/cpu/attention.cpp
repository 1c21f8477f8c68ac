// CPU fused scaled dot-product attention kernels (see ops/attention.h).
// Forward, per query row i: scores s_j = scale * q_i.k_j + mask_ij over key blocks of kBlock;
// a running max m and sum l are rescaled when a block raises the max, so only one block of
// scores exists at a time; out_i = acc / l and lse_i = m + log(l) (a row with no allowed key
// gives NaN output and lse = -inf).
// Backward with p_ij = exp(s_ij - lse_i) and D_i = dout_i.out_i:
//   ds_ij = p_ij * (dout_i.v_j - D_i);  gq_i = scale * sum_j ds_ij k_j
//   gk_j = scale * sum_i ds_ij q_i;     gv_j = sum_i p_ij dout_i
// computed in two passes (over query rows, then over key rows) so that every sum runs serially
// in index order: results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "ops/attention.h"

namespace ranvier::cpu {

namespace {

constexpr int64_t kBlock = 64;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

template <typename T>
double dot(const T* a, const T* b, int64_t n) {
  double acc = 0;
  for (int64_t t = 0; t < n; ++t) acc += double(a[t]) * double(b[t]);
  return acc;
}

template <typename T>
double score(const AttnSpec& p, const T* qi, const T* kb, const T* mb, int64_t i, int64_t j) {
  double sc = p.scale * dot(qi, kb + j * p.e, p.e);
  if (mb) sc += double(mb[i * p.ml + j * p.ms]);
  return sc;
}

template <typename T>
int64_t key_end(const AttnSpec& p, int64_t i) {
  return p.causal ? std::min(p.s, i + 1) : p.s;
}

template <typename T>
void sdpa_forward(const AttnSpec& p) {
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  const T* mask = static_cast<const T*>(p.mask);
  T* out = static_cast<T*>(p.out);
  T* lse = static_cast<T*>(p.lse);
  const int64_t rows = p.b * p.l;
  const int64_t work = std::max<int64_t>(1, p.s * (p.e + p.ev));
  parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / work), [&](int64_t rb, int64_t re) {
    std::vector<double> sc(kBlock), acc(p.ev);
    for (int64_t r = rb; r < re; ++r) {
      const int64_t b = r / p.l, i = r % p.l;
      const T* qi = q + r * p.e;
      const T* kb = k + b * p.s * p.e;
      const T* vb = v + b * p.s * p.ev;
      const T* mb = mask ? mask + b * p.mb : nullptr;
      std::fill(acc.begin(), acc.end(), 0.0);
      double m = kNegInf, l = 0;
      const int64_t jend = key_end<T>(p, i);
      for (int64_t j0 = 0; j0 < jend; j0 += kBlock) {
        const int64_t jn = std::min(kBlock, jend - j0);
        double bm = kNegInf;
        for (int64_t t = 0; t < jn; ++t) {
          sc[t] = score(p, qi, kb, mb, i, j0 + t);
          bm = std::max(bm, sc[t]);
        }
        if (bm == kNegInf) continue;
        const double mn = std::max(m, bm);
        const double c = m == kNegInf ? 0.0 : std::exp(m - mn);
        l *= c;
        for (auto& a : acc) a *= c;
        for (int64_t t = 0; t < jn; ++t) {
          const double w = std::exp(sc[t] - mn);
          l += w;
          const T* vj = vb + (j0 + t) * p.ev;
          for (int64_t d = 0; d < p.ev; ++d) acc[d] += w * double(vj[d]);
        }
        m = mn;
      }
      T* o = out + r * p.ev;
      if (l == 0) {
        for (int64_t d = 0; d < p.ev; ++d) o[d] = T(std::numeric_limits<double>::quiet_NaN());
        lse[r] = T(kNegInf);
      } else {
        for (int64_t d = 0; d < p.ev; ++d) o[d] = T(acc[d] / l);
        lse[r] = T(m + std::log(l));
      }
    }
  });
}

template <typename T>
void sdpa_backward(const AttnSpec& p) {
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  const T* mask = static_cast<const T*>(p.mask);
  const T* out = static_cast<const T*>(p.out);
  const T* lse = static_cast<const T*>(p.lse);
  const T* g = static_cast<const T*>(p.grad);
  T* gq = static_cast<T*>(p.gq);
  T* gk = static_cast<T*>(p.gk);
  T* gv = static_cast<T*>(p.gv);
  const int64_t rows = p.b * p.l;
  std::vector<double> dsum(rows);
  const int64_t work = std::max<int64_t>(1, p.s * (p.e + p.ev));
  const int64_t grain = std::max<int64_t>(1, kGrainSize / work);
  // pass 1, over query rows: D_i and gq_i
  parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) {
    std::vector<double> acc(p.e);
    for (int64_t r = rb; r < re; ++r) {
      const int64_t b = r / p.l, i = r % p.l;
      const double li = double(lse[r]);
      dsum[r] = li == kNegInf ? 0.0 : dot(g + r * p.ev, out + r * p.ev, p.ev);
      if (!gq || li == kNegInf) continue;
      const T* qi = q + r * p.e;
      const T* kb = k + b * p.s * p.e;
      const T* vb = v + b * p.s * p.ev;
      const T* mb = mask ? mask + b * p.mb : nullptr;
      std::fill(acc.begin(), acc.end(), 0.0);
      const int64_t jend = key_end<T>(p, i);
      for (int64_t j = 0; j < jend; ++j) {
        const double pij = std::exp(score(p, qi, kb, mb, i, j) - li);
        if (pij == 0) continue;
        const double ds = pij * (dot(g + r * p.ev, vb + j * p.ev, p.ev) - dsum[r]);
        const T* kj = kb + j * p.e;
        for (int64_t d = 0; d < p.e; ++d) acc[d] += ds * double(kj[d]);
      }
      for (int64_t d = 0; d < p.e; ++d) gq[r * p.e + d] = T(p.scale * acc[d]);
    }
  });
  if (!gk && !gv) return;
  // pass 2, over key rows: gk_j and gv_j, query rows summed in order
  const int64_t krows = p.b * p.s;
  const int64_t kwork = std::max<int64_t>(1, p.l * (p.e + p.ev));
  parallel_for(0, krows, std::max<int64_t>(1, kGrainSize / kwork), [&](int64_t cb, int64_t ce) {
    std::vector<double> ak(p.e), av(p.ev);
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t b = c / p.s, j = c % p.s;
      const T* kb = k + b * p.s * p.e;
      const T* vj = v + c * p.ev;
      const T* mb = mask ? mask + b * p.mb : nullptr;
      std::fill(ak.begin(), ak.end(), 0.0);
      std::fill(av.begin(), av.end(), 0.0);
      for (int64_t i = p.causal ? j : 0; i < p.l; ++i) {
        const int64_t r = b * p.l + i;
        const double li = double(lse[r]);
        if (li == kNegInf) continue;
        const T* qi = q + r * p.e;
        const double pij = std::exp(score(p, qi, kb, mb, i, j) - li);
        if (pij == 0) continue;
        const T* gi = g + r * p.ev;
        if (gv)
          for (int64_t d = 0; d < p.ev; ++d) av[d] += pij * double(gi[d]);
        if (gk) {
          const double ds = pij * (dot(gi, vj, p.ev) - dsum[r]);
          for (int64_t d = 0; d < p.e; ++d) ak[d] += ds * double(qi[d]);
        }
      }
      if (gk)
        for (int64_t d = 0; d < p.e; ++d) gk[c * p.e + d] = T(p.scale * ak[d]);
      if (gv)
        for (int64_t d = 0; d < p.ev; ++d) gv[c * p.ev + d] = T(av[d]);
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

void register_attention_cpu() {
  sdpa_forward_kernel.set(DeviceType::CPU, &sdpa_forward_cpu);
  sdpa_backward_kernel.set(DeviceType::CPU, &sdpa_backward_cpu);
}

}  // namespace ranvier::cpu
