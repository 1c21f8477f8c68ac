// CUDA kernels of scaled dot-product attention (AttnSpec, ops/attention.h). float32 and
// float64: a plain version from cuBLAS GEMMs and row kernels, below. float16 / bfloat16: the
// flash kernels (flash_attention.cu) where they apply, else the float32 version on float32
// copies (via_float32). Batch entries go in chunks whose [chunk, L, S] score buffer stays
// under kScoreBudget elements.
// Forward, per chunk: P = scale * Q K^T (one batched GEMM); a row kernel (one block per row)
// adds the mask, keeps keys j < key_end(i), computes max, sum of exp and lse = max + log(sum),
// and overwrites the row with the probabilities (zeros for keys not allowed); out = P V (one
// batched GEMM); rows with no allowed key (lse = -inf) get NaN outputs, as on the CPU.
// Backward, per chunk, with P recomputed as exp(scale q.k + mask - lse):
//   gv = P^T dout;  dP = dout V^T;  dS = P * (dP - D) * scale with D_i = dout_i . out_i;
//   gq = dS K;  gk = dS^T Q   (batched GEMMs; the row kernel forms dS in place of dP).
// Gradients are written in full (beta = 0; the op passes unset buffers).
#include <algorithm>
#include <cmath>
#include <limits>

#include "cuda/context.h"
#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/blas.h"
#include "kernels/cuda/flash_attention.cuh"
#include "ops/copy.h"

namespace ranvier::cuda {

namespace {

constexpr int64_t kScoreBudget = int64_t(1) << 25;  // score entries per chunk (x2 in backward)

template <typename T>
__device__ T block_reduce(T v, T* sh, bool is_max) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) {
      const T o = sh[threadIdx.x + w];
      sh[threadIdx.x] = is_max ? (o > sh[threadIdx.x] ? o : sh[threadIdx.x]) : sh[threadIdx.x] + o;
    }
    __syncthreads();
  }
  const T r = sh[0];
  __syncthreads();
  return r;
}

// Forward softmax over rows of sc ([nb, L, S] for batch entries b0..b0+nb): one block per row.
template <typename T>
__global__ void softmax_rows(AttnSpec p, int64_t b0, int64_t nb, T* sc, T* lse) {
  __shared__ T sh[kThreads];
  const T ninf = -T(INFINITY);
  const T* mask = static_cast<const T*>(p.mask);
  for (int64_t row = blockIdx.x; row < nb * p.l; row += gridDim.x) {
    const int64_t b = b0 + row / p.l, i = row % p.l;
    T* r = sc + row * p.s;
    const int64_t jend = attn_key_end(p, i);
    T m = ninf;
    for (int64_t j = threadIdx.x; j < jend; j += blockDim.x) {
      T v = r[j];
      if (mask) v += mask[attn_mask_offset(p, b, i, j)];
      r[j] = v;
      m = v > m ? v : m;
    }
    m = block_reduce(m, sh, true);
    T l = T(0);
    if (m != ninf) {
      for (int64_t j = threadIdx.x; j < jend; j += blockDim.x) {
        const T e = exp(r[j] - m);
        r[j] = e;
        l += e;
      }
    }
    l = block_reduce(l, sh, false);
    const T inv = m == ninf ? T(0) : T(1) / l;
    for (int64_t j = threadIdx.x; j < p.s; j += blockDim.x) r[j] = j < jend ? r[j] * inv : T(0);
    if (threadIdx.x == 0) lse[b * p.l + i] = m == ninf ? ninf : m + log(l);
  }
}

// out rows whose lse is -inf (no allowed key) become NaN.
template <typename T>
__global__ void nan_empty_rows(AttnSpec p, int64_t b0, int64_t nb, const T* lse, T* out) {
  const T ninf = -T(INFINITY);
  RV_GRID_STRIDE(e, nb * p.l * p.ev) {
    const int64_t row = b0 * p.l + e / p.ev;
    if (lse[row] == ninf) out[b0 * p.l * p.ev + e] = T(NAN);
  }
}

// Backward, before gv: sc holds scale q.k (chunk rows); turns it into P = exp(s + mask - lse)
// over the allowed keys, zeros elsewhere (one thread per entry).
template <typename T>
__global__ void probs_from_lse(AttnSpec p, int64_t b0, int64_t nb, T* sc, const T* lse) {
  const T ninf = -T(INFINITY);
  const T* mask = static_cast<const T*>(p.mask);
  RV_GRID_STRIDE(e, nb * p.l * p.s) {
    const int64_t row = e / p.s, j = e % p.s;
    const int64_t b = b0 + row / p.l, i = row % p.l;
    const T ls = lse[b * p.l + i];
    if (ls == ninf || j >= attn_key_end(p, i)) {
      sc[e] = T(0);
    } else {
      T v = sc[e];
      if (mask) v += mask[attn_mask_offset(p, b, i, j)];
      sc[e] = exp(v - ls);
    }
  }
}

// dP -> dS = P * (dP - D_i) * scale, D_i = dout_i . out_i (0 for empty rows); one block per row.
template <typename T>
__global__ void ds_rows(AttnSpec p, int64_t b0, int64_t nb, const T* sc, T* dp, const T* g,
                        const T* out, const T* lse) {
  __shared__ T sh[kThreads];
  const T ninf = -T(INFINITY);
  for (int64_t row = blockIdx.x; row < nb * p.l; row += gridDim.x) {
    const int64_t grow = b0 * p.l + row;
    T d = T(0);
    if (lse[grow] != ninf)
      for (int64_t c = threadIdx.x; c < p.ev; c += blockDim.x)
        d += g[grow * p.ev + c] * out[grow * p.ev + c];
    d = block_reduce(d, sh, false);
    const T scale = T(p.scale);
    for (int64_t j = threadIdx.x; j < p.s; j += blockDim.x) {
      const int64_t e = row * p.s + j;
      dp[e] = sc[e] * (dp[e] - d) * scale;
    }
  }
}

unsigned row_blocks(int64_t rows) { return unsigned(std::max<int64_t>(1, std::min<int64_t>(rows, 65535))); }

int64_t chunk_entries(const AttnSpec& p) {
  return std::max<int64_t>(1, std::min<int64_t>(p.b, kScoreBudget / std::max<int64_t>(p.l * p.s, 1)));
}

template <typename T>
void forward_t(const AttnSpec& p) {
  const int64_t L = p.l, S = p.s, E = p.e, Ev = p.ev;
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  T* out = static_cast<T*>(p.out);
  T* lse = static_cast<T*>(p.lse);
  const int64_t C = chunk_entries(p);
  ScratchBuffer buf(size_t(C * L * S) * sizeof(T));
  T* sc = buf.as<T>();
  cudaStream_t st = current_stream();
  for (int64_t b0 = 0; b0 < p.b; b0 += C) {
    const int64_t nb = std::min(C, p.b - b0);
    gemm_rm(p.dtype, false, true, L, S, E, p.scale, q + b0 * L * E, E, L * E, k + b0 * S * E, E,
            S * E, 0.0, sc, S, L * S, nb);
    softmax_rows<T><<<row_blocks(nb * L), kThreads, 0, st>>>(p, b0, nb, sc, lse);
    RV_CUDA_CHECK(cudaGetLastError());
    gemm_rm(p.dtype, false, false, L, Ev, S, 1.0, sc, S, L * S, v + b0 * S * Ev, Ev, S * Ev, 0.0,
            out + b0 * L * Ev, Ev, L * Ev, nb);
    if (nb * L * Ev > 0) {
      nan_empty_rows<T><<<grid_for(nb * L * Ev), kThreads, 0, st>>>(p, b0, nb, lse, out);
      RV_CUDA_CHECK(cudaGetLastError());
    }
  }
}

template <typename T>
void backward_t(const AttnSpec& p) {
  const int64_t L = p.l, S = p.s, E = p.e, Ev = p.ev;
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  const T* out = static_cast<const T*>(p.out);
  const T* lse = static_cast<const T*>(p.lse);
  const T* g = static_cast<const T*>(p.grad);
  T* gq = static_cast<T*>(p.gq);
  T* gk = static_cast<T*>(p.gk);
  T* gv = static_cast<T*>(p.gv);
  if (p.b * L * S == 0) return;
  const int64_t C = chunk_entries(p);
  ScratchBuffer buf(size_t(2 * C * L * S) * sizeof(T));
  T* sc = buf.as<T>();
  T* dp = sc + C * L * S;
  cudaStream_t st = current_stream();
  for (int64_t b0 = 0; b0 < p.b; b0 += C) {
    const int64_t nb = std::min(C, p.b - b0);
    const int64_t n = nb * L * S;
    gemm_rm(p.dtype, false, true, L, S, E, p.scale, q + b0 * L * E, E, L * E, k + b0 * S * E, E,
            S * E, 0.0, sc, S, L * S, nb);
    probs_from_lse<T><<<grid_for(n), kThreads, 0, st>>>(p, b0, nb, sc, lse);
    RV_CUDA_CHECK(cudaGetLastError());
    if (gv)
      gemm_rm(p.dtype, true, false, S, Ev, L, 1.0, sc, S, L * S, g + b0 * L * Ev, Ev, L * Ev, 0.0,
              gv + b0 * S * Ev, Ev, S * Ev, nb);
    if (!gq && !gk) continue;
    gemm_rm(p.dtype, false, true, L, S, Ev, 1.0, g + b0 * L * Ev, Ev, L * Ev, v + b0 * S * Ev, Ev,
            S * Ev, 0.0, dp, S, L * S, nb);
    ds_rows<T><<<row_blocks(nb * L), kThreads, 0, st>>>(p, b0, nb, sc, dp, g, out, lse);
    RV_CUDA_CHECK(cudaGetLastError());
    if (gq)
      gemm_rm(p.dtype, false, false, L, E, S, 1.0, dp, S, L * S, k + b0 * S * E, E, S * E, 0.0,
              gq + b0 * L * E, E, L * E, nb);
    if (gk)
      gemm_rm(p.dtype, true, false, S, E, L, 1.0, dp, S, L * S, q + b0 * L * E, E, L * E, 0.0,
              gk + b0 * S * E, E, S * E, nb);
  }
}

template <typename F>
void dispatch_float(DType t, F&& f) {
  if (t == DType::Float32) return f(float{});
  if (t == DType::Float64) return f(double{});
  throw_error(ErrorKind::NotImplemented,
              str_cat("scaled_dot_product_attention has no CUDA kernel for dtype ", dtype_name(t),
                      " (float32 and float64 only)"));
}

// The op checks shapes and dtypes but not devices: a CPU operand would be read as device memory.
void check_devices(const AttnSpec& s, bool backward) {
  const char* op = "scaled_dot_product_attention";
  check_device_pointer(s.q, op, "the query");
  check_device_pointer(s.k, op, "the key");
  check_device_pointer(s.v, op, "the value");
  check_device_pointer(s.mask, op, "attn_mask");
  if (backward) check_device_pointer(s.grad, op, "the output gradient");
}

// Converts n elements (or the [b, l, s] mask at strides mb, ml, ms) between dtypes through the
// cast kernel slot.
void convert(void* dst, DType dt, const void* src, DType st, int64_t n) {
  LoopSpec l;
  l.ndim = 1;
  l.nops = 2;
  l.numel = l.sizes[0] = n;
  l.data[0] = static_cast<char*>(dst);
  l.data[1] = static_cast<char*>(const_cast<void*>(src));
  l.dtypes[0] = dt;
  l.dtypes[1] = st;
  l.strides[0][0] = l.strides[1][0] = 1;
  if (n > 0) cast_kernel.get(Device(DeviceType::CUDA, current_device_index()), "sdpa")(l);
}
void convert_mask(float* dst, const AttnSpec& s) {
  LoopSpec l;
  l.ndim = 3;
  l.nops = 2;
  l.numel = s.b * s.l * s.s;
  const int64_t sizes[3] = {s.b, s.l, s.s}, dst_st[3] = {s.l * s.s, s.s, 1},
                src_st[3] = {s.mb, s.ml, s.ms};
  for (int d = 0; d < 3; ++d) {
    l.sizes[d] = sizes[d];
    l.strides[0][d] = dst_st[d];
    l.strides[1][d] = src_st[d];
  }
  l.data[0] = reinterpret_cast<char*>(dst);
  l.data[1] = static_cast<char*>(const_cast<void*>(s.mask));
  l.dtypes[0] = DType::Float32;
  l.dtypes[1] = s.dtype;
  if (l.numel > 0) cast_kernel.get(Device(DeviceType::CUDA, current_device_index()), "sdpa")(l);
}

// A float16 / bfloat16 call the flash kernels do not take (a mask, another head dim): the
// float32 kernels on float32 copies, the results rounded back once. lse is float32 already.
void via_float32(const AttnSpec& s, bool backward) {
  const int64_t nq = s.b * s.l * s.e, nk = s.b * s.s * s.e, nv = s.b * s.s * s.ev,
                no = s.b * s.l * s.ev, nm = s.mask ? s.b * s.l * s.s : 0;
  const DType h = s.dtype, f = DType::Float32;
  ScratchBuffer buf(size_t(2 * nq + 2 * nk + 2 * nv + 2 * no + nm) * sizeof(float));
  float* q = buf.as<float>();
  float *k = q + nq, *v = k + nk, *o = v + nv, *m = o + no, *g = m + nm;
  float *gq = g + no, *gk = gq + nq, *gv = gk + nk;
  AttnSpec t = s;
  t.dtype = f;
  convert(q, f, s.q, h, nq);
  convert(k, f, s.k, h, nk);
  convert(v, f, s.v, h, nv);
  t.q = q;
  t.k = k;
  t.v = v;
  t.out = o;
  if (s.mask) {
    convert_mask(m, s);
    t.mask = m;
    t.mb = s.l * s.s;
    t.ml = s.s;
    t.ms = 1;
  }
  if (!backward) {
    forward_t<float>(t);
    convert(s.out, h, o, f, no);
    return;
  }
  convert(o, f, s.out, h, no);
  convert(g, f, s.grad, h, no);
  t.grad = g;
  t.gq = s.gq ? gq : nullptr;
  t.gk = s.gk ? gk : nullptr;
  t.gv = s.gv ? gv : nullptr;
  backward_t<float>(t);
  if (s.gq) convert(s.gq, h, gq, f, nq);
  if (s.gk) convert(s.gk, h, gk, f, nk);
  if (s.gv) convert(s.gv, h, gv, f, nv);
}

void sdpa_forward_cuda(const AttnSpec& s) {
  check_devices(s, false);
  if (is_reduced_float(s.dtype))
    return flash_attention_applies(s) ? flash_attention_forward(s) : via_float32(s, false);
  dispatch_float(s.dtype, [&](auto z) { forward_t<decltype(z)>(s); });
}
void sdpa_backward_cuda(const AttnSpec& s) {
  check_devices(s, true);
  if (is_reduced_float(s.dtype))
    return flash_attention_applies(s) ? flash_attention_backward(s) : via_float32(s, true);
  dispatch_float(s.dtype, [&](auto z) { backward_t<decltype(z)>(s); });
}

}  // namespace

void register_attention_cuda() {
  sdpa_forward_kernel.set(DeviceType::CUDA, &sdpa_forward_cuda);
  sdpa_backward_kernel.set(DeviceType::CUDA, &sdpa_backward_cuda);
}

}  // namespace ranvier::cuda
