// Fused recurrent layers: rnn_layer runs one direction of one RNN / LSTM / GRU layer over a
// whole sequence in C++, given the input projection of every time step (computed outside as
// one GEMM, x @ W_ih^T + b_ih, so its gradient flows through ordinary ops). Each step is one
// GEMM h_prev @ W_hh^T (OpenBLAS) and one fused elementwise pass over the gates; the op is one
// autograd node whose backward runs back through time in C++ (hand-written gate derivatives)
// and ends with one GEMM for dW_hh. Its own backward (double backward) raises
// NotImplementedError. Gate order: i, f, g, o for LSTM and r, z, n for GRU.
#pragma once
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace ranvier {

enum class RnnMode : int { Tanh = 0, Relu = 1, Lstm = 2, Gru = 3 };

// Gates per hidden unit for a mode (1, 1, 4, 3).
int64_t rnn_gate_count(RnnMode mode);

// xp: [T, B, G*H] input projections (b_ih included); h0: [B, H]; c0: [B, H] for LSTM
// (undefined otherwise); w_hh: [G*H, H]; b_hh: [G*H] or undefined. reverse runs t = T-1..0.
// lengths: empty, or B sequence lengths (steps t >= lengths[b] keep row b's state and give a
// zero output). Returns {y [T, B, H], h_n [B, H], c_n [B, H] (LSTM) or undefined}.
// `name` is the layer named in error messages.
std::vector<Tensor> rnn_layer(RnnMode mode, const Tensor& xp, const Tensor& h0,
                              const Tensor& c0, const Tensor& w_hh, const Tensor& b_hh,
                              bool reverse, const std::vector<int64_t>& lengths,
                              const char* name = "rnn_layer");

// rnn_layer whose input projections are x @ W_ih^T + b_ih for x the output of embedding()
// [d0, d1, in] (time-major, or batch-first when swap01): the layer reads them from the
// products of x's distinct rows (Note [Embedding projection], ops/embedding.h), and its
// backward gives W_ih, b_ih and the table (or x) their gradients from the gate gradients. b_ih
// may be undefined. Returns an empty vector when that does not apply (x is not such an
// output, too few repeats, not float32/float64 on the CPU): run the projection and rnn_layer
// then. lengths are not supported (packed input is never an embedding's output).
// batch_first_out: y as [B, T, H] (the layer writes it in that order; no copy afterwards).
std::vector<Tensor> rnn_layer_embedded(RnnMode mode, const Tensor& x, const Tensor& w_ih,
                                       const Tensor& b_ih, bool swap01, const Tensor& h0,
                                       const Tensor& c0, const Tensor& w_hh,
                                       const Tensor& b_hh, bool reverse, bool batch_first_out,
                                       const char* name = "rnn_layer");

// Plain pointers for the kernels; all buffers contiguous, of dtype float32 or float64.
// ws: saved per-step values, [T, B, W] with W = 6H (LSTM: i, f, g, o, c_prev, tanh c),
// 4H (GRU: r, z, n, h W_hn^T + b_hn) or H (RNN: the new h). hp: [T, B, H] the h each step
// started from. Time index t (not step order) everywhere.
struct RnnSpec {
  RnnMode mode = RnnMode::Tanh;
  bool is_double = false;
  bool reverse = false;
  int64_t t = 0, b = 0, h = 0;
  const int64_t* lengths = nullptr;  // or null
  const void* xp = nullptr;
  const int64_t* xp_rows = nullptr;  // or null: step t, row b reads row xp_rows[t B + b] of xp
  bool y_batch_first = false;        // y and dy as [B, T, H] (CPU only)
  const void* h0 = nullptr;
  const void* c0 = nullptr;
  const void* w_hh = nullptr;
  const void* b_hh = nullptr;  // or null
  void* y = nullptr;
  void* hn = nullptr;
  void* cn = nullptr;
  void* ws = nullptr;
  void* hp = nullptr;
  // backward
  const void* dy = nullptr;   // [T, B, H]
  const void* dhn = nullptr;  // [B, H]
  const void* dcn = nullptr;  // [B, H] (LSTM)
  void* dxp = nullptr;        // [T, B, G*H]
  void* dh0 = nullptr;
  void* dc0 = nullptr;
  void* dw_hh = nullptr;  // [G*H, H]
  void* db_hh = nullptr;  // [G*H] or null
  // Optional (CPU): dxp's rows summed per group, dxp_groups[t B + b] in [0, groups): written
  // to group_sums [ceil(B / 16), groups, G*H], one partial sum per block of 16 batch rows
  // (steps in backward order, rows in order), so that the sums do not depend on the split.
  const int64_t* dxp_groups = nullptr;
  int64_t groups = 0;
  void* group_sums = nullptr;
};
// The row block of RnnSpec::group_sums.
constexpr int64_t kRnnGroupBlock = 16;
int64_t rnn_saved_width(RnnMode mode, int64_t h);
using RnnKernel = void (*)(const RnnSpec& s);

// The packed GEMM the CPU recurrent step runs on (kernels/cpu/gemm_packed.h), exposed for
// tests: a [M, K] @ b [K, N], plus c [M, N] when c is defined (float32 or float64, CPU).
Tensor rnn_packed_gemm(const Tensor& a, const Tensor& b, const Tensor& c);
// The float kernel level of that GEMM (2 AVX-512, 1 AVX2 + FMA, 0 portable): level >= 0 sets
// it (clamped to what the CPU supports; for tests); returns the level in use.
int rnn_gemm_isa(int level);
extern KernelSlot<RnnKernel> rnn_forward_kernel;
extern KernelSlot<RnnKernel> rnn_backward_kernel;

}  // namespace ranvier
