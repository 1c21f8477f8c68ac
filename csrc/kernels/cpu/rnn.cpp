// CPU kernels of the fused recurrent layer (see ops/rnn.h).
// W_hh is packed once per call (kernels/cpu/gemm_packed.h): for the forward as W_hh^T in
// panels of kPackNr hidden units of one gate, for the backward as W_hh in panels of kPackNr
// hidden units; every step's GEMM runs on the packed copy. The work is split among threads
// by blocks of batch rows (independent sequences: no synchronisation) or, when there are too
// few rows, by blocks of hidden units (all rows, a barrier per step); see split_work.
// Forward, per step t (in step order), for rows [b0, b1) and units [j0, j1): gh[rows, gate g,
// units] = hp[t][rows] @ W_hh^T (the units' panels), then one pass over the rows computes the
// gates from xp[t] + gh + b_hh, the new state (written to hp[next t], or h_n at the last
// step) and y[t], and saves what the backward needs in ws[t]; with a unit split, a barrier
// ends the step (the next GEMM reads every unit of the new h). hp[t] is the h step t started
// from.
// Backward, per step in reverse step order, for rows and units: one pass over the rows turns
// dh (carried, plus dy[t]) and dc into the pre-activation gate gradients (dxp[t], and for
// GRU the separate hidden-side gradients, since r multiplies h W_hn^T + b_hn) and the direct
// part of dh_prev; (unit split: a barrier;) then dh_prev[rows, units] = direct part +
// dgates_h[t][rows] @ W_hh[:, units]. db_hh (column sums of dgates_h) is summed as the
// gradients are made, per fixed block of rows (see rnn_backward). After the loop dW_hh =
// dgates_h^T @ hp (one GEMM over all steps, cpu::gemm of blas.h).
// Every value is computed the same way whatever the split (Note [Packed GEMM determinism]),
// so results do not depend on the thread count.
// Rows past their sequence length (lengths) keep their state, give y = 0 and get zero gate
// gradients; their dh and dc pass through unchanged.
#pragma GCC optimize("no-trapping-math")  // see kernels/cpu/fast_math.h
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/gemm_packed.h"
#include "ops/rnn.h"

namespace ranvier::cpu {

namespace {

// Float gates use the branch-free math of fast_math.h (Note [Fast float math]) so that the
// gate loops vectorise; double uses libm.
template <typename T>
RV_ALWAYS_INLINE T sigm(T x) {
  return T(1) / (T(1) + std::exp(-x));
}
template <>
RV_ALWAYS_INLINE float sigm(float x) {
  return sigmoid_f(x);
}
template <typename T>
RV_ALWAYS_INLINE T tanh_(T x) {
  return std::tanh(x);
}
template <>
RV_ALWAYS_INLINE float tanh_(float x) {
  return tanh_f(x);
}

// One row of the LSTM forward for n hidden units (pointers at the first unit; gate segments
// H apart): gates from the input and hidden projections, then c and h. The six saved segments
// come as separate restrict pointers (else the vectoriser needs more run-time alias checks
// than it allows and gives up).
template <typename T>
RV_ALWAYS_INLINE void lstm_row_parts(int64_t n, int64_t H, const T* __restrict xr,
                                     const T* __restrict gr, const T* __restrict bh,
                                     T* __restrict c, T* __restrict h, T* __restrict yr,
                                     T* __restrict wi, T* __restrict wf, T* __restrict wg,
                                     T* __restrict wo, T* __restrict wc, T* __restrict wt) {
  for (int64_t j = 0; j < n; ++j) {
    const T i = sigm(xr[j] + gr[j] + bh[j]);
    const T f = sigm(xr[H + j] + gr[H + j] + bh[H + j]);
    const T g = tanh_(xr[2 * H + j] + gr[2 * H + j] + bh[2 * H + j]);
    const T o = sigm(xr[3 * H + j] + gr[3 * H + j] + bh[3 * H + j]);
    const T cp = c[j];
    const T cnew = f * cp + i * g;
    const T tc = tanh_(cnew);
    wi[j] = i;
    wf[j] = f;
    wg[j] = g;
    wo[j] = o;
    wc[j] = cp;
    wt[j] = tc;
    c[j] = cnew;
    const T hv = o * tc;
    h[j] = hv;
    yr[j] = hv;
  }
}

template <typename T>
RV_ALWAYS_INLINE void lstm_row(int64_t n, int64_t H, const T* xr, const T* gr, const T* bh,
                               T* c, T* h, T* yr, T* wr) {
  lstm_row_parts<T>(n, H, xr, gr, bh, c, h, yr, wr, wr + H, wr + 2 * H, wr + 3 * H,
                    wr + 4 * H, wr + 5 * H);
}

// One row of the GRU forward for n hidden units (n uses r * (h W_hn^T + b_hn)).
template <typename T>
RV_ALWAYS_INLINE void gru_row(int64_t n, int64_t H, const T* __restrict xr,
                              const T* __restrict gr, const T* __restrict bh,
                              const T* __restrict hprev, T* __restrict h, T* __restrict yr,
                              T* __restrict wr) {
  for (int64_t j = 0; j < n; ++j) {
    const T r = sigm(xr[j] + gr[j] + bh[j]);
    const T z = sigm(xr[H + j] + gr[H + j] + bh[H + j]);
    const T ghn = gr[2 * H + j] + bh[2 * H + j];
    const T nv = tanh_(xr[2 * H + j] + r * ghn);
    wr[j] = r;
    wr[H + j] = z;
    wr[2 * H + j] = nv;
    wr[3 * H + j] = ghn;
    const T hv = (T(1) - z) * nv + z * hprev[j];
    h[j] = hv;
    yr[j] = hv;
  }
}

// Float copies of the row functions for AVX-512 / AVX2 / baseline (Note [Fast float math]);
// overload resolution picks them for float, the templates for double.
RV_MULTIVERSION void lstm_row(int64_t n, int64_t H, const float* xr, const float* gr,
                              const float* bh, float* c, float* h, float* yr, float* wr) {
  lstm_row<float>(n, H, xr, gr, bh, c, h, yr, wr);
}
RV_MULTIVERSION void gru_row(int64_t n, int64_t H, const float* xr, const float* gr,
                             const float* bh, const float* hprev, float* h, float* yr,
                             float* wr) {
  gru_row<float>(n, H, xr, gr, bh, hprev, h, yr, wr);
}

// Runs f(tid, nt) on a team of up to `want` threads (one when already inside a parallel
// region).
template <typename F>
void run_team(int64_t want, const F& f) {
  int nt = int(std::min<int64_t>(want, get_num_threads()));
  if (in_parallel_region()) nt = 1;
  if (nt <= 1) {
    f(0, 1);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  f(omp_get_thread_num(), omp_get_num_threads());
#else
  f(0, 1);
#endif
}

// Waits for the whole team when active (every thread of the team calls it the same way).
struct StepBarrier {
  bool active;
  void operator()() const {
#ifdef _OPENMP
    if (active) {
#pragma omp barrier
    }
#endif
  }
};

// How the time loop is split among threads (see the file comment; timings in
// benchmarks/kernels/lstm_layer.py). By blocks of kRowBlock batch rows: each block runs all
// steps for all units on its own, with no synchronisation (the packed W_hh streams from the
// shared L3 at no measurable cost), chosen when the blocks spread evenly over the threads. By
// blocks of hidden units otherwise (few rows): all rows together, a barrier per step.
// RV_RNN_SPLIT=rows / units forces one (for measurements). Results are the same either way.
// body(b0, b1, u0, u1, barrier) runs rows [b0, b1) and unit blocks [u0, u1).
constexpr int64_t kRowBlock = kRnnGroupBlock;

int forced_split() {
  static const int v = [] {
    const char* e = std::getenv("RV_RNN_SPLIT");
    if (e && std::string(e) == "rows") return 1;
    if (e && std::string(e) == "units") return 2;
    return 0;
  }();
  return v;
}

template <typename F>
void split_work(int64_t B, int64_t nub, const F& body) {
  const int64_t nb = (B + kRowBlock - 1) / kRowBlock;
  const int64_t nt = in_parallel_region() ? 1 : get_num_threads();
  bool by_rows = nb % nt == 0 || nb >= 4 * nt || nub <= nb;
  if (forced_split()) by_rows = forced_split() == 1;
  if (!by_rows) {
    run_team(nub, [&](int tid, int n) {
      body(int64_t(0), B, nub * tid / n, nub * (tid + 1) / n, StepBarrier{n > 1});
    });
    return;
  }
  run_team(nb, [&](int tid, int n) {
    for (int64_t k = nb * tid / n; k < nb * (tid + 1) / n; ++k)
      body(k * kRowBlock, std::min(B, (k + 1) * kRowBlock), int64_t(0), nub,
           StepBarrier{false});
  });
}

// 64-byte aligned scratch (threads write neighbouring column blocks of one buffer).
template <typename T>
struct Scratch {
  explicit Scratch(int64_t n) : p(static_cast<T*>(std::aligned_alloc(64, bytes(n)))) {}
  ~Scratch() { std::free(p); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  static size_t bytes(int64_t n) {
    return (size_t(std::max<int64_t>(n, 1)) * sizeof(T) + 63) / 64 * 64;
  }
  T* p;
};

template <typename T>
void rnn_forward(const RnnSpec& s) {
  const int64_t Tn = s.t, B = s.b, H = s.h, G = rnn_gate_count(s.mode), GH = G * H;
  const int64_t W = rnn_saved_width(s.mode, H);
  const T* xp = static_cast<const T*>(s.xp);
  const T* w = static_cast<const T*>(s.w_hh);
  const T* bh = static_cast<const T*>(s.b_hh);
  T* y = static_cast<T*>(s.y);
  T* ws = static_cast<T*>(s.ws);
  T* hp = static_cast<T*>(s.hp);
  T* hn = static_cast<T*>(s.hn);
  T* cn = static_cast<T*>(s.cn);
  if (B * H == 0) return;
  if (s.mode == RnnMode::Lstm) std::memcpy(cn, s.c0, size_t(B * H) * sizeof(T));
  if (Tn == 0) {
    std::memcpy(hn, s.h0, size_t(B * H) * sizeof(T));
    return;
  }
  std::memcpy(hp + (s.reverse ? Tn - 1 : 0) * B * H, s.h0, size_t(B * H) * sizeof(T));
  std::vector<T> zero_bias(bh ? 0 : size_t(GH), T(0));
  if (!bh) bh = zero_bias.data();
  // packed W_hh^T: panel (u, g) holds the columns of gate g for units [u NR, u NR + NR)
  const int64_t NR = kPackNr, nub = (H + NR - 1) / NR;
  Scratch<T> packed(nub * G * H * NR);
  Scratch<T> gh(B * GH);
  parallel_for(0, nub * G, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t u = q / G, g = q % G;
      pack_panel<T>(H, std::min(NR, H - u * NR), w + (g * H + u * NR) * H, 1, H,
                    packed.p + q * H * NR);
    }
  });
  split_work(B, nub, [&](int64_t b0, int64_t b1, int64_t u0, int64_t u1,
                         const StepBarrier& barrier) {
    const int64_t j0 = u0 * NR, n = std::min(H, u1 * NR) - j0;
    for (int64_t k = 0; k < Tn; ++k) {
      const int64_t t = s.reverse ? Tn - 1 - k : k;
      const T* hpt = hp + t * B * H;
      T* hnext = k + 1 < Tn ? hp + (s.reverse ? t - 1 : t + 1) * B * H : hn;
      for (int64_t q = u0 * G; q < u1 * G; ++q) {
        const int64_t u = q / G, g = q % G;
        gemm_panel(b1 - b0, H, hpt + b0 * H, H, packed.p + q * H * NR,
                   std::min(NR, H - u * NR), gh.p + b0 * GH + g * H + u * NR, GH, false);
      }
      for (int64_t b = b0; b < b1 && n > 0; ++b) {
        const int64_t row = t * B + b;
        T* yr = y + (s.y_batch_first ? b * Tn + t : row) * H + j0;
        T* wr = ws + row * W + j0;
        T* h = hnext + b * H + j0;
        if (s.lengths && t >= s.lengths[b]) {
          std::fill(yr, yr + n, T(0));
          for (int64_t q = 0; q < W / H; ++q) std::fill(wr + q * H, wr + q * H + n, T(0));
          std::copy(hpt + b * H + j0, hpt + b * H + j0 + n, h);
          continue;
        }
        const T* xr = xp + (s.xp_rows ? s.xp_rows[row] : row) * GH + j0;
        const T* gr = gh.p + b * GH + j0;
        const T* bj = bh + j0;
        switch (s.mode) {
          case RnnMode::Lstm:
            lstm_row(n, H, xr, gr, bj, cn + b * H + j0, h, yr, wr);
            break;
          case RnnMode::Gru:
            gru_row(n, H, xr, gr, bj, hpt + b * H + j0, h, yr, wr);
            break;
          case RnnMode::Tanh:
            for (int64_t j = 0; j < n; ++j) h[j] = yr[j] = wr[j] = tanh_(xr[j] + gr[j] + bj[j]);
            break;
          case RnnMode::Relu:
            for (int64_t j = 0; j < n; ++j) {
              const T v = xr[j] + gr[j] + bj[j];
              h[j] = yr[j] = wr[j] = v > T(0) ? v : T(0);
            }
            break;
        }
      }
      barrier();
    }
  });
}

// The gate gradients of one row at one step for n hidden units (pointers at the first unit;
// gate segments H apart; see the file comment); dd gets the direct part of dh_prev (GRU:
// dh z; else 0).
template <typename T>
RV_ALWAYS_INLINE void backward_row(RnnMode mode, int64_t n, int64_t H, const T* __restrict wr,
                                   const T* __restrict hprev, const T* __restrict dhr,
                                   const T* __restrict dyr, T* __restrict dcr, T* __restrict dx,
                                   T* __restrict dg, T* __restrict dd) {
  switch (mode) {
    case RnnMode::Lstm:
      for (int64_t j = 0; j < n; ++j) {
        const T i = wr[j], f = wr[H + j], g = wr[2 * H + j], o = wr[3 * H + j],
                cp = wr[4 * H + j], tc = wr[5 * H + j];
        const T dhj = dhr[j] + dyr[j];
        const T dcj = dcr[j] + dhj * o * (T(1) - tc * tc);
        dx[j] = dcj * g * i * (T(1) - i);
        dx[H + j] = dcj * cp * f * (T(1) - f);
        dx[2 * H + j] = dcj * i * (T(1) - g * g);
        dx[3 * H + j] = dhj * tc * o * (T(1) - o);
        dcr[j] = dcj * f;
        dd[j] = T(0);
      }
      break;
    case RnnMode::Gru:
      for (int64_t j = 0; j < n; ++j) {
        const T r = wr[j], z = wr[H + j], nv = wr[2 * H + j], ghn = wr[3 * H + j];
        const T dhj = dhr[j] + dyr[j];
        const T dnp = dhj * (T(1) - z) * (T(1) - nv * nv);
        const T dzp = dhj * (hprev[j] - nv) * z * (T(1) - z);
        const T drp = dnp * ghn * r * (T(1) - r);
        dx[j] = drp;
        dg[j] = drp;
        dx[H + j] = dzp;
        dg[H + j] = dzp;
        dx[2 * H + j] = dnp;
        dg[2 * H + j] = dnp * r;
        dd[j] = dhj * z;
      }
      break;
    case RnnMode::Tanh:
      for (int64_t j = 0; j < n; ++j) {
        const T hv = wr[j];
        dx[j] = (dhr[j] + dyr[j]) * (T(1) - hv * hv);
        dd[j] = T(0);
      }
      break;
    case RnnMode::Relu:
      for (int64_t j = 0; j < n; ++j) {
        dx[j] = wr[j] > T(0) ? dhr[j] + dyr[j] : T(0);
        dd[j] = T(0);
      }
      break;
  }
}

RV_MULTIVERSION void backward_row(RnnMode mode, int64_t n, int64_t H, const float* wr,
                                  const float* hprev, const float* dhr, const float* dyr,
                                  float* dcr, float* dx, float* dg, float* dd) {
  backward_row<float>(mode, n, H, wr, hprev, dhr, dyr, dcr, dx, dg, dd);
}

// acc[g H + j] += dg[g H + j] for the G gate segments of n units (db_hh's partial sums).
template <typename T>
RV_ALWAYS_INLINE void add_gate_row(int64_t G, int64_t n, int64_t H, const T* __restrict dg,
                                   double* __restrict acc) {
  for (int64_t g = 0; g < G; ++g)
    for (int64_t j = 0; j < n; ++j) acc[g * H + j] += double(dg[g * H + j]);
}
RV_MULTIVERSION void add_gate_row(int64_t G, int64_t n, int64_t H, const float* dg,
                                  double* acc) {
  add_gate_row<float>(G, n, H, dg, acc);
}

// acc[g H + j] += dx[g H + j] for the G gate segments of n units (a group's partial sums).
template <typename T>
RV_ALWAYS_INLINE void add_row(int64_t G, int64_t n, int64_t H, const T* __restrict dx,
                              T* __restrict acc) {
  for (int64_t g = 0; g < G; ++g)
    for (int64_t j = 0; j < n; ++j) acc[g * H + j] += dx[g * H + j];
}

template <typename T>
void rnn_backward(const RnnSpec& s) {
  const int64_t Tn = s.t, B = s.b, H = s.h, G = rnn_gate_count(s.mode), GH = G * H;
  const int64_t W = rnn_saved_width(s.mode, H);
  const bool lstm = s.mode == RnnMode::Lstm, gru = s.mode == RnnMode::Gru;
  const T* w = static_cast<const T*>(s.w_hh);
  const T* ws = static_cast<const T*>(s.ws);
  const T* hp = static_cast<const T*>(s.hp);
  const T* dy = static_cast<const T*>(s.dy);
  T* dxp = static_cast<T*>(s.dxp);
  T* dw = static_cast<T*>(s.dw_hh);
  T* db = static_cast<T*>(s.db_hh);
  T* dh = static_cast<T*>(s.dh0);  // running dh (ends as dh0)
  T* dc = static_cast<T*>(s.dc0);  // running dc (ends as dc0)
  if (B * H > 0) {
    std::memcpy(dh, s.dhn, size_t(B * H) * sizeof(T));
    if (lstm) std::memcpy(dc, s.dcn, size_t(B * H) * sizeof(T));
  }
  // GRU: hidden-side gate gradients differ from the input side (n's part is scaled by r).
  std::vector<T> dgh_buf(gru ? size_t(Tn * B * GH) : 0);
  T* dgh = gru ? dgh_buf.data() : dxp;
  // db_hh: per block of kRowBlock rows (fixed, whatever the split), a sum over the steps in
  // step order and the block's rows in order, formed as the gate gradients are made; then the
  // blocks in order.
  const int64_t nblk = (B + kRowBlock - 1) / kRowBlock;
  std::vector<double> dbp(size_t(Tn > 0 ? nblk * GH : 0), 0.0);
  // dxp's rows summed per group, likewise per block of rows (see RnnSpec::dxp_groups)
  T* gsum = static_cast<T*>(s.group_sums);
  if (gsum) std::fill(gsum, gsum + nblk * s.groups * GH, T(0));
  if (B * H > 0 && Tn > 0) {
    // packed W_hh: panel u holds the columns of units [u NR, u NR + NR), all G H rows
    const int64_t NR = kPackNr, nub = (H + NR - 1) / NR;
    Scratch<T> packed(nub * GH * NR);
    Scratch<T> dd(B * H);
    parallel_for(0, nub, 1, [&](int64_t u0, int64_t u1) {
      for (int64_t u = u0; u < u1; ++u)
        pack_panel<T>(GH, std::min(NR, H - u * NR), w + u * NR, H, 1, packed.p + u * GH * NR);
    });
    split_work(B, nub, [&](int64_t b0, int64_t b1, int64_t u0, int64_t u1,
                           const StepBarrier& barrier) {
      const int64_t j0 = u0 * NR, n = std::min(H, u1 * NR) - j0;
      for (int64_t k = Tn - 1; k >= 0; --k) {
        const int64_t t = s.reverse ? Tn - 1 - k : k;
        for (int64_t b = b0; b < b1 && n > 0; ++b) {
          const int64_t row = t * B + b;
          T* dx = dxp + row * GH + j0;
          T* dg = dgh + row * GH + j0;
          T* ddr = dd.p + b * H + j0;
          const T* dhr = dh + b * H + j0;
          if (s.lengths && t >= s.lengths[b]) {
            for (int64_t g = 0; g < G; ++g) {
              std::fill(dx + g * H, dx + g * H + n, T(0));
              if (gru) std::fill(dg + g * H, dg + g * H + n, T(0));
            }
            std::copy(dhr, dhr + n, ddr);
            continue;
          }
          backward_row(s.mode, n, H, ws + row * W + j0, hp + row * H + j0, dhr,
                       dy + (s.y_batch_first ? b * Tn + t : row) * H + j0,
                       lstm ? dc + b * H + j0 : nullptr, dx, dg, ddr);
          add_gate_row(G, n, H, dg, dbp.data() + (b / kRowBlock) * GH + j0);
          if (gsum)
            add_row(G, n, H, dx, gsum + ((b / kRowBlock) * s.groups + s.dxp_groups[row]) * GH + j0);
        }
        barrier();
        // dh_prev[:, units] = direct part + dgates_h[t] @ W_hh[:, units]
        for (int64_t u = u0; u < u1; ++u)
          gemm_panel(b1 - b0, GH, dgh + (t * B + b0) * GH, GH, packed.p + u * GH * NR,
                     std::min(NR, H - u * NR), dd.p + b0 * H + u * NR, H, true);
        for (int64_t b = b0; b < b1; ++b)
          std::copy(dd.p + b * H + j0, dd.p + b * H + j0 + n, dh + b * H + j0);
      }
    });
  }
  const int64_t rows = Tn * B;
  if (rows == 0) {
    std::fill(dw, dw + GH * H, T(0));
    std::fill(db, db + GH, T(0));
    return;
  }
  if (GH * H > 0)
    gemm<T>(true, false, GH, H, rows, dgh, GH, hp, H, 0.0, dw, H);
  for (int64_t c = 0; c < GH; ++c) {
    double v = 0.0;
    for (int64_t k = 0; k < nblk; ++k) v += dbp[size_t(k * GH + c)];
    db[c] = T(v);
  }
}

void forward_kernel(const RnnSpec& s) {
  if (s.is_double) rnn_forward<double>(s);
  else rnn_forward<float>(s);
}

void backward_kernel(const RnnSpec& s) {
  if (s.is_double) rnn_backward<double>(s);
  else rnn_backward<float>(s);
}

}  // namespace

void register_rnn_cpu() {
  rnn_forward_kernel.set(DeviceType::CPU, &forward_kernel);
  rnn_backward_kernel.set(DeviceType::CPU, &backward_kernel);
}

}  // namespace ranvier::cpu
