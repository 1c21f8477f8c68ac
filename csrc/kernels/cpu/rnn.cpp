// CPU kernels of the fused recurrent layer (see ops/rnn.h).
// Forward, per step t (in step order): hp[t] = h; gh = hp[t] @ W_hh^T (one GEMM); then one
// pass over the rows computes the gates from xp[t] + gh + b_hh, the new state and y[t], and
// saves what the backward needs in ws[t].
// Backward, per step in reverse step order: one pass over the rows turns dh (carried, plus
// dy[t]) and dc into the pre-activation gate gradients (dxp[t], and for GRU the separate
// hidden-side gradients, since r multiplies h W_hn^T + b_hn) and the direct part of dh_prev;
// then dh_prev += dgates_h[t] @ W_hh (one GEMM). After the loop dW_hh = dgates_h^T @ hp (one
// GEMM over all steps) and db_hh = column sums of dgates_h, each column summed in row order:
// results do not depend on the thread count.
// Batch rows are independent sequences: blocks of rows run through all steps on their own,
// one block per thread (for_row_blocks), so a step needs no synchronisation between threads.
// Rows past their sequence length (lengths) keep their state, give y = 0 and get zero gate
// gradients; their dh and dc pass through unchanged.
#pragma GCC optimize("no-trapping-math")  // see kernels/cpu/fast_math.h
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/fast_math.h"
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

// One row of the LSTM forward: gates from the input and hidden projections, then c and h.
// The six saved segments come as separate restrict pointers (else the vectoriser needs more
// run-time alias checks than it allows and gives up).
template <typename T>
RV_ALWAYS_INLINE void lstm_row_parts(int64_t H, const T* __restrict xr, const T* __restrict gr,
                                     const T* __restrict bh, T* __restrict c, T* __restrict h,
                                     T* __restrict yr, T* __restrict wi, T* __restrict wf,
                                     T* __restrict wg, T* __restrict wo, T* __restrict wc,
                                     T* __restrict wt) {
  for (int64_t j = 0; j < H; ++j) {
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
RV_ALWAYS_INLINE void lstm_row(int64_t H, const T* xr, const T* gr, const T* bh, T* c, T* h,
                               T* yr, T* wr) {
  lstm_row_parts<T>(H, xr, gr, bh, c, h, yr, wr, wr + H, wr + 2 * H, wr + 3 * H, wr + 4 * H,
                    wr + 5 * H);
}

// One row of the GRU forward (n uses r * (h W_hn^T + b_hn)).
template <typename T>
RV_ALWAYS_INLINE void gru_row(int64_t H, const T* __restrict xr, const T* __restrict gr,
                              const T* __restrict bh, const T* __restrict hprev,
                              T* __restrict h, T* __restrict yr, T* __restrict wr) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = sigm(xr[j] + gr[j] + bh[j]);
    const T z = sigm(xr[H + j] + gr[H + j] + bh[H + j]);
    const T ghn = gr[2 * H + j] + bh[2 * H + j];
    const T n = tanh_(xr[2 * H + j] + r * ghn);
    wr[j] = r;
    wr[H + j] = z;
    wr[2 * H + j] = n;
    wr[3 * H + j] = ghn;
    const T hv = (T(1) - z) * n + z * hprev[j];
    h[j] = hv;
    yr[j] = hv;
  }
}

// Float copies of the row functions for AVX-512 / AVX2 / baseline (Note [Fast float math]);
// overload resolution picks them for float, the templates for double.
RV_MULTIVERSION void lstm_row(int64_t H, const float* xr, const float* gr, const float* bh,
                              float* c, float* h, float* yr, float* wr) {
  lstm_row<float>(H, xr, gr, bh, c, h, yr, wr);
}
RV_MULTIVERSION void gru_row(int64_t H, const float* xr, const float* gr, const float* bh,
                             const float* hprev, float* h, float* yr, float* wr) {
  gru_row<float>(H, xr, gr, bh, hprev, h, yr, wr);
}

// Runs f(b0, b1) over blocks of kRowBlock batch rows. Rows are independent sequences, so a
// block runs through every time step on its own: the blocks go to the threads in one parallel
// region (single-threaded GEMMs inside), or run in turn with multi-threaded GEMMs when there is
// only one block or one thread. The block size does not depend on the thread count.
constexpr int64_t kRowBlock = 16;

template <typename F>
void for_row_blocks(int64_t B, const F& f) {
  const int64_t nb = (B + kRowBlock - 1) / kRowBlock;
  auto run = [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) f(k * kRowBlock, std::min(B, (k + 1) * kRowBlock));
  };
  if (nb >= 2 && get_num_threads() > 1 && !in_parallel_region()) {
    BlasSingleThreadGuard guard;
    parallel_for(0, nb, 1, run);
  } else {
    run(0, nb);
  }
}

template <typename T>
void rnn_forward(const RnnSpec& s) {
  const int64_t Tn = s.t, B = s.b, H = s.h, GH = rnn_gate_count(s.mode) * H;
  const int64_t W = rnn_saved_width(s.mode, H);
  const bool lstm = s.mode == RnnMode::Lstm;
  const T* xp = static_cast<const T*>(s.xp);
  const T* w = static_cast<const T*>(s.w_hh);
  const T* bh = static_cast<const T*>(s.b_hh);
  T* y = static_cast<T*>(s.y);
  T* ws = static_cast<T*>(s.ws);
  T* hp = static_cast<T*>(s.hp);
  T* hn = static_cast<T*>(s.hn);
  T* cn = static_cast<T*>(s.cn);
  if (B * H == 0) return;
  std::memcpy(hn, s.h0, size_t(B * H) * sizeof(T));  // hn / cn hold the running state
  if (lstm) std::memcpy(cn, s.c0, size_t(B * H) * sizeof(T));
  std::vector<T> zero_bias(bh ? 0 : size_t(GH), T(0));
  if (!bh) bh = zero_bias.data();
  for_row_blocks(B, [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    std::vector<T> gh(size_t(nb * GH));
    for (int64_t k = 0; k < Tn; ++k) {
      const int64_t t = s.reverse ? Tn - 1 - k : k;
      T* hpt = hp + (t * B + b0) * H;
      std::memcpy(hpt, hn + b0 * H, size_t(nb * H) * sizeof(T));
      blas_gemm(s.is_double, false, true, nb, GH, H, 1.0, hpt, H, w, H, 0.0, gh.data(), GH);
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = t * B + b;
        T* yr = y + row * H;
        T* wr = ws + row * W;
        T* h = hn + b * H;
        if (s.lengths && t >= s.lengths[b]) {
          std::fill(yr, yr + H, T(0));
          std::fill(wr, wr + W, T(0));
          continue;
        }
        const T* xr = xp + row * GH;
        const T* gr = gh.data() + (b - b0) * GH;
        switch (s.mode) {
          case RnnMode::Lstm:
            lstm_row(H, xr, gr, bh, cn + b * H, h, yr, wr);
            break;
          case RnnMode::Gru:
            gru_row(H, xr, gr, bh, hp + row * H, h, yr, wr);
            break;
          case RnnMode::Tanh:
            for (int64_t j = 0; j < H; ++j) h[j] = yr[j] = wr[j] = tanh_(xr[j] + gr[j] + bh[j]);
            break;
          case RnnMode::Relu:
            for (int64_t j = 0; j < H; ++j) {
              const T v = xr[j] + gr[j] + bh[j];
              h[j] = yr[j] = wr[j] = v > T(0) ? v : T(0);
            }
            break;
        }
      }
    }
  });
}

// The gate gradients of one row at one step (see the file comment); dd gets the direct part
// of dh_prev (GRU: dh z; else 0).
template <typename T>
RV_ALWAYS_INLINE void backward_row(RnnMode mode, int64_t H, const T* __restrict wr,
                                   const T* __restrict hprev, const T* __restrict dhr,
                                   const T* __restrict dyr, T* __restrict dcr, T* __restrict dx,
                                   T* __restrict dg, T* __restrict dd) {
  switch (mode) {
    case RnnMode::Lstm:
      for (int64_t j = 0; j < H; ++j) {
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
      for (int64_t j = 0; j < H; ++j) {
        const T r = wr[j], z = wr[H + j], n = wr[2 * H + j], ghn = wr[3 * H + j];
        const T dhj = dhr[j] + dyr[j];
        const T dnp = dhj * (T(1) - z) * (T(1) - n * n);
        const T dzp = dhj * (hprev[j] - n) * z * (T(1) - z);
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
      for (int64_t j = 0; j < H; ++j) {
        const T hv = wr[j];
        dx[j] = (dhr[j] + dyr[j]) * (T(1) - hv * hv);
        dd[j] = T(0);
      }
      break;
    case RnnMode::Relu:
      for (int64_t j = 0; j < H; ++j) {
        dx[j] = wr[j] > T(0) ? dhr[j] + dyr[j] : T(0);
        dd[j] = T(0);
      }
      break;
  }
}

RV_MULTIVERSION void backward_row(RnnMode mode, int64_t H, const float* wr, const float* hprev,
                                  const float* dhr, const float* dyr, float* dcr, float* dx,
                                  float* dg, float* dd) {
  backward_row<float>(mode, H, wr, hprev, dhr, dyr, dcr, dx, dg, dd);
}

template <typename T>
void rnn_backward(const RnnSpec& s) {
  const int64_t Tn = s.t, B = s.b, H = s.h, GH = rnn_gate_count(s.mode) * H;
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
  if (B * H > 0) {
    for_row_blocks(B, [&](int64_t b0, int64_t b1) {
      const int64_t nb = b1 - b0;
      std::vector<T> dhd(size_t(nb * H));
      for (int64_t k = Tn - 1; k >= 0; --k) {
        const int64_t t = s.reverse ? Tn - 1 - k : k;
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t row = t * B + b;
          T* dx = dxp + row * GH;
          T* dg = dgh + row * GH;
          T* dd = dhd.data() + (b - b0) * H;
          const T* dhr = dh + b * H;
          if (s.lengths && t >= s.lengths[b]) {
            std::fill(dx, dx + GH, T(0));
            if (gru) std::fill(dg, dg + GH, T(0));
            std::copy(dhr, dhr + H, dd);
            continue;
          }
          backward_row(s.mode, H, ws + row * W, hp + row * H, dhr, dy + row * H,
                       lstm ? dc + b * H : nullptr, dx, dg, dd);
        }
        // dh_prev = direct part + dgates_h[t] @ W_hh
        blas_gemm(s.is_double, false, false, nb, H, GH, 1.0, dgh + (t * B + b0) * GH, GH, w, H,
                  1.0, dhd.data(), H);
        std::memcpy(dh + b0 * H, dhd.data(), size_t(nb * H) * sizeof(T));
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
    blas_gemm(s.is_double, true, false, GH, H, rows, 1.0, dgh, GH, hp, H, 0.0, dw, H);
  // db_hh: column sums, each column in row order (blocks of columns per thread)
  parallel_for(0, GH, 64, [&](int64_t c0, int64_t c1) {
    std::vector<double> acc(size_t(c1 - c0), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* src = dgh + r * GH;
      for (int64_t c = c0; c < c1; ++c) acc[size_t(c - c0)] += double(src[c]);
    }
    for (int64_t c = c0; c < c1; ++c) db[c] = T(acc[size_t(c - c0)]);
  });
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
