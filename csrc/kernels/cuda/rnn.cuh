// Per-unit gate math of the CUDA recurrent kernels (kernels/cuda/rnn.cu), host/device so that
// csrc/cuda/test/blas_math_test.cu can check it on the host against a plain reference. The
// formulas and the saved values are those of the CPU kernel (kernels/cpu/rnn.cpp): gate order
// i, f, g, o (LSTM) and r, z, n (GRU); saved per unit: LSTM i, f, g, o, c_prev, tanh c; GRU r,
// z, n, h W_hn^T + b_hn; RNN the new h. Segments are H apart.
#pragma once
#include <cmath>
#include <cstdint>

#include "ops/rnn.h"

namespace ranvier::cuda {

template <typename T>
__host__ __device__ inline T rnn_sigmoid(T x) {
  return T(1) / (T(1) + exp(-x));
}

// Forward of unit j of one row: x (input projection row), gh (h_prev W_hh^T row), bh (b_hh or
// null), hprev (h_prev row); c (LSTM cell, updated in place); writes h, y and the saved w.
template <typename T>
__host__ __device__ inline void rnn_forward_unit(RnnMode mode, int64_t H, int64_t j, const T* x,
                                                 const T* gh, const T* bh, const T* hprev, T* c,
                                                 T* h, T* y, T* w) {
  auto pre = [&](int64_t g) { return x[g * H + j] + gh[g * H + j] + (bh ? bh[g * H + j] : T(0)); };
  T hv;
  switch (mode) {
    case RnnMode::Lstm: {
      const T i = rnn_sigmoid(pre(0)), f = rnn_sigmoid(pre(1)), g = tanh(pre(2)),
              o = rnn_sigmoid(pre(3));
      const T cp = c[j];
      const T cn = f * cp + i * g;
      const T tc = tanh(cn);
      w[j] = i;
      w[H + j] = f;
      w[2 * H + j] = g;
      w[3 * H + j] = o;
      w[4 * H + j] = cp;
      w[5 * H + j] = tc;
      c[j] = cn;
      hv = o * tc;
      break;
    }
    case RnnMode::Gru: {
      const T r = rnn_sigmoid(pre(0)), z = rnn_sigmoid(pre(1));
      const T ghn = gh[2 * H + j] + (bh ? bh[2 * H + j] : T(0));
      const T n = tanh(x[2 * H + j] + r * ghn);
      w[j] = r;
      w[H + j] = z;
      w[2 * H + j] = n;
      w[3 * H + j] = ghn;
      hv = (T(1) - z) * n + z * hprev[j];
      break;
    }
    case RnnMode::Tanh:
      hv = tanh(pre(0));
      w[j] = hv;
      break;
    default: {  // Relu
      const T v = pre(0);
      hv = v > T(0) ? v : T(0);
      w[j] = hv;
      break;
    }
  }
  h[j] = hv;
  y[j] = hv;
}

// Backward of unit j of one row at one step: w (saved), hprev, dh (carried), dy; dc (LSTM,
// updated in place to dc_prev); writes dx (input-side gate gradients), dg (hidden-side ones,
// differ for GRU: may alias dx otherwise) and dd (the direct part of dh_prev).
template <typename T>
__host__ __device__ inline void rnn_backward_unit(RnnMode mode, int64_t H, int64_t j, const T* w,
                                                  const T* hprev, const T* dh, const T* dy, T* dc,
                                                  T* dx, T* dg, T* dd) {
  const T dhj = dh[j] + dy[j];
  switch (mode) {
    case RnnMode::Lstm: {
      const T i = w[j], f = w[H + j], g = w[2 * H + j], o = w[3 * H + j], cp = w[4 * H + j],
              tc = w[5 * H + j];
      const T dcj = dc[j] + dhj * o * (T(1) - tc * tc);
      dx[j] = dcj * g * i * (T(1) - i);
      dx[H + j] = dcj * cp * f * (T(1) - f);
      dx[2 * H + j] = dcj * i * (T(1) - g * g);
      dx[3 * H + j] = dhj * tc * o * (T(1) - o);
      dc[j] = dcj * f;
      dd[j] = T(0);
      break;
    }
    case RnnMode::Gru: {
      const T r = w[j], z = w[H + j], n = w[2 * H + j], ghn = w[3 * H + j];
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
      break;
    }
    case RnnMode::Tanh: {
      const T hv = w[j];
      dx[j] = dhj * (T(1) - hv * hv);
      dd[j] = T(0);
      break;
    }
    default:  // Relu
      dx[j] = w[j] > T(0) ? dhj : T(0);
      dd[j] = T(0);
      break;
  }
}

}  // namespace ranvier::cuda
