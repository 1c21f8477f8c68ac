// CUDA kernels of the fused recurrent layer (RnnSpec, ops/rnn.h), float32 and float64, storing
// and returning what the CPU kernel does (saved values per step in ws, the h each step started
// from in hp). Per-unit gate math in rnn.cuh.
// Forward, per step in step order: gh = h_prev W_hh^T (one cuBLAS GEMM, [B, G*H]); then one
// fused kernel over (row, unit) computes the gates from xp[t] + gh + b_hh, the new c and h
// (written to hp of the next step, or h_n after the last), y[t] and the saved values. Rows past
// their sequence length keep their state, give y = 0 and save zeros.
// Backward, per step in reverse step order: one fused kernel over (row, unit) turns the carried
// dh (+ dy[t]) and dc into the gate gradients (dxp[t]; GRU also the hidden-side ones, in a
// separate buffer) and the direct part of dh_prev; then dh_prev = direct + dgates_h[t] @ W_hh
// (one GEMM with beta 1). After the loop dW_hh = dgates_h^T @ hp over all steps (one GEMM) and
// db_hh = the column sums of dgates_h (one thread per column, rows in order, in double).
// Rows past their length get zero gate gradients; their dh and dc pass through.
#include <memory>

#include "cuda/context.h"
#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/blas.h"
#include "kernels/cuda/rnn.cuh"

namespace ranvier::cuda {

namespace {

template <typename T>
__global__ void forward_step(RnnSpec s, int64_t G, int64_t W, int64_t t, const int64_t* lengths,
                             const T* gh, const T* hpt, T* hnext) {
  const int64_t B = s.b, H = s.h, GH = G * H;
  RV_GRID_STRIDE(e, B * H) {
    const int64_t b = e / H, j = e % H, row = t * B + b;
    T* y = static_cast<T*>(s.y) + row * H;
    T* w = static_cast<T*>(s.ws) + row * W;
    if (lengths && t >= lengths[b]) {
      y[j] = T(0);
      for (int64_t q = 0; q < W / H; ++q) w[q * H + j] = T(0);
      hnext[b * H + j] = hpt[b * H + j];
      continue;
    }
    rnn_forward_unit<T>(s.mode, H, j, static_cast<const T*>(s.xp) + row * GH, gh + b * GH,
                        static_cast<const T*>(s.b_hh), hpt + b * H,
                        s.cn ? static_cast<T*>(s.cn) + b * H : nullptr, hnext + b * H, y, w);
  }
}

template <typename T>
__global__ void backward_step(RnnSpec s, int64_t G, int64_t W, int64_t t,
                              const int64_t* lengths, T* dgh, T* dd) {
  const int64_t B = s.b, H = s.h, GH = G * H;
  const bool gru = s.mode == RnnMode::Gru, lstm = s.mode == RnnMode::Lstm;
  const T* dh = static_cast<const T*>(s.dh0);
  RV_GRID_STRIDE(e, B * H) {
    const int64_t b = e / H, j = e % H, row = t * B + b;
    T* dx = static_cast<T*>(s.dxp) + row * GH;
    T* dg = dgh + row * GH;
    if (lengths && t >= lengths[b]) {
      for (int64_t g = 0; g < G; ++g) {
        dx[g * H + j] = T(0);
        if (gru) dg[g * H + j] = T(0);
      }
      dd[b * H + j] = dh[b * H + j];
      continue;
    }
    rnn_backward_unit<T>(s.mode, H, j, static_cast<const T*>(s.ws) + row * W,
                         static_cast<const T*>(s.hp) + row * H, dh + b * H,
                         static_cast<const T*>(s.dy) + row * H,
                         lstm ? static_cast<T*>(s.dc0) + b * H : nullptr, dx, dg, dd + b * H);
  }
}

// db[c] = sum over rows of dg[row, c], rows in order, in double.
template <typename T>
__global__ void column_sums(const T* dg, int64_t rows, int64_t cols, T* db) {
  RV_GRID_STRIDE(c, cols) {
    double acc = 0.0;
    for (int64_t r = 0; r < rows; ++r) acc += double(dg[r * cols + c]);
    db[c] = T(acc);
  }
}

// The sequence lengths on the device (null when there are none).
struct DeviceLengths {
  std::unique_ptr<ScratchBuffer> buf;
  const int64_t* ptr = nullptr;
  DeviceLengths(const int64_t* host, int64_t b) {
    if (!host || b == 0) return;
    buf = std::make_unique<ScratchBuffer>(size_t(b) * sizeof(int64_t));
    RV_CUDA_CHECK(cudaMemcpy(buf->as<void>(), host, size_t(b) * sizeof(int64_t),
                             cudaMemcpyHostToDevice));
    ptr = buf->as<int64_t>();
  }
};

void copy_d2d(void* dst, const void* src, size_t bytes) {
  if (bytes) RV_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice,
                                           current_stream()));
}

template <typename T>
void forward_t(const RnnSpec& s) {
  const int64_t Tn = s.t, B = s.b, H = s.h, GH = rnn_gate_count(s.mode) * H;
  const DType dt = s.is_double ? DType::Float64 : DType::Float32;
  const size_t state = size_t(B * H) * sizeof(T);
  if (B * H == 0) return;
  if (s.mode == RnnMode::Lstm) copy_d2d(s.cn, s.c0, state);
  if (Tn == 0) return copy_d2d(s.hn, s.h0, state);
  T* hp = static_cast<T*>(s.hp);
  copy_d2d(hp + (s.reverse ? Tn - 1 : 0) * B * H, s.h0, state);
  DeviceLengths lens(s.lengths, B);
  ScratchBuffer gh(size_t(B * GH) * sizeof(T));
  for (int64_t k = 0; k < Tn; ++k) {
    const int64_t t = s.reverse ? Tn - 1 - k : k;
    const T* hpt = hp + t * B * H;
    T* hnext = k + 1 < Tn ? hp + (s.reverse ? t - 1 : t + 1) * B * H : static_cast<T*>(s.hn);
    gemm_rm(dt, false, true, B, GH, H, 1.0, hpt, H, 0, s.w_hh, H, 0, 0.0, gh.as<T>(), GH, 0, 1);
    forward_step<T><<<grid_for(B * H), kThreads, 0, current_stream()>>>(
        s, rnn_gate_count(s.mode), rnn_saved_width(s.mode, H), t, lens.ptr, gh.as<T>(), hpt,
        hnext);
    RV_CUDA_CHECK(cudaGetLastError());
  }
}

template <typename T>
void backward_t(const RnnSpec& s) {
  const int64_t Tn = s.t, B = s.b, H = s.h, GH = rnn_gate_count(s.mode) * H;
  const DType dt = s.is_double ? DType::Float64 : DType::Float32;
  const bool gru = s.mode == RnnMode::Gru, lstm = s.mode == RnnMode::Lstm;
  const size_t state = size_t(B * H) * sizeof(T);
  copy_d2d(s.dh0, s.dhn, state);
  if (lstm) copy_d2d(s.dc0, s.dcn, state);
  std::unique_ptr<ScratchBuffer> dgh_buf;
  if (gru) dgh_buf = std::make_unique<ScratchBuffer>(size_t(Tn * B * GH) * sizeof(T));
  T* dgh = gru ? dgh_buf->as<T>() : static_cast<T*>(s.dxp);
  if (B * H > 0 && Tn > 0) {
    DeviceLengths lens(s.lengths, B);
    ScratchBuffer dd(state);
    for (int64_t k = Tn - 1; k >= 0; --k) {
      const int64_t t = s.reverse ? Tn - 1 - k : k;
      backward_step<T><<<grid_for(B * H), kThreads, 0, current_stream()>>>(
          s, rnn_gate_count(s.mode), rnn_saved_width(s.mode, H), t, lens.ptr, dgh, dd.as<T>());
      RV_CUDA_CHECK(cudaGetLastError());
      gemm_rm(dt, false, false, B, H, GH, 1.0, dgh + t * B * GH, GH, 0, s.w_hh, H, 0, 1.0,
              dd.as<T>(), H, 0, 1);
      copy_d2d(s.dh0, dd.as<void>(), state);
    }
  }
  const int64_t rows = Tn * B;
  if (rows == 0) {
    if (s.dw_hh) RV_CUDA_CHECK(cudaMemsetAsync(s.dw_hh, 0, size_t(GH * H) * sizeof(T),
                                               current_stream()));
    if (s.db_hh) RV_CUDA_CHECK(cudaMemsetAsync(s.db_hh, 0, size_t(GH) * sizeof(T),
                                               current_stream()));
    return;
  }
  if (s.dw_hh)
    gemm_rm(dt, true, false, GH, H, rows, 1.0, dgh, GH, 0, s.hp, H, 0, 0.0, s.dw_hh, H, 0, 1);
  if (s.db_hh && GH > 0) {
    column_sums<T><<<grid_for(GH), kThreads, 0, current_stream()>>>(dgh, rows, GH,
                                                                    static_cast<T*>(s.db_hh));
    RV_CUDA_CHECK(cudaGetLastError());
  }
}

void forward_cuda(const RnnSpec& s) {
  if (s.is_double) forward_t<double>(s);
  else forward_t<float>(s);
}

void backward_cuda(const RnnSpec& s) {
  if (s.is_double) backward_t<double>(s);
  else backward_t<float>(s);
}

}  // namespace

void register_rnn_cuda() {
  rnn_forward_kernel.set(DeviceType::CUDA, &forward_cuda);
  rnn_backward_kernel.set(DeviceType::CUDA, &backward_cuda);
}

}  // namespace ranvier::cuda
