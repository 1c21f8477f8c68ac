// CUDA kernels of the convolution family (ops/conv.h), float32 and float64 (the dtypes the
// ops take).
// - im2col: one thread per column element (index math in conv.cuh), zeros for padding.
// - col2im: one thread per image element, gathering the column entries that read it in the
//   CPU kernel's order: no atomics, deterministic, the same sums as the CPU.
// - Fused convolutions (ConvGeom), built from those and cuBLAS (kernels/cuda/blas.h). Samples
//   go in chunks whose column buffer stays under kColBudget elements:
//   forward: cols = im2col(img[chunk]); per group one GEMM batched over the chunk's samples
//     (weight batch stride 0) straight into mat; then the bias kernel.
//   backward data: per group one batched GEMM cols = W_g^T @ mat[n]_g; img = col2im(cols);
//     then the bias kernel (over ci).
//   weight grad: per group one GEMM batched over the chunk's samples, the products
//     p[n]_g = mat[n]_g @ cols[n]_g^T into scratch; then one kernel adds them to dw in sample
//     order (dw = p[0] for the first sample): the sums of a sample-by-sample accumulation with
//     beta = 1, in the same order, from two launches per chunk instead of one per sample.
//   conv2d backward: the three above; the bias gradient is one block per output channel
//     summing over samples and positions with a fixed tree (deterministic).
#include <algorithm>

#include "cuda/context.h"
#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/blas.h"
#include "kernels/cuda/conv.cuh"

namespace ranvier::cuda {

namespace {

constexpr int64_t kColBudget = int64_t(1) << 25;  // column buffer elements per chunk
constexpr int64_t kProdBudget = int64_t(1) << 22;  // weight-gradient product elements per batch

template <typename T>
__global__ void im2col_kernel_dev(Im2ColSpec s, const T* img, T* col, int64_t total) {
  RV_GRID_STRIDE(e, total) {
    const int64_t src = im2col_source(s, e);
    col[e] = src < 0 ? T(0) : img[src];
  }
}

template <typename T>
__global__ void col2im_kernel_dev(Im2ColSpec s, const T* col, T* img, int64_t total) {
  RV_GRID_STRIDE(e, total) {
    T acc = T(0);
    col2im_sources(s, e, [&](int64_t off) { acc += col[off]; });
    img[e] = acc;
  }
}

// x[n, c, i] += bias[c] over [count, channels, len].
template <typename T>
__global__ void add_bias_dev(T* x, const T* bias, int64_t channels, int64_t len, int64_t total) {
  RV_GRID_STRIDE(e, total) { x[e] += bias[(e / len) % channels]; }
}

// db[o] = sum over n and i of g[n, o, i]; one block per channel, each thread a fixed strided
// share in order, then a fixed tree over the block.
template <typename T>
__global__ void bias_grad_dev(const T* g, T* db, int64_t n, int64_t co, int64_t len) {
  __shared__ T part[kThreads];
  for (int64_t o = blockIdx.x; o < co; o += gridDim.x) {
    T acc = T(0);
    for (int64_t e = threadIdx.x; e < n * len; e += blockDim.x)
      acc += g[((e / len) * co + o) * len + e % len];
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
      if (int(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
      __syncthreads();
    }
    if (threadIdx.x == 0) db[o] = part[0];
    __syncthreads();
  }
}

// dw[i] (+)= p[0][i] + p[1][i] + ... + p[ns-1][i], left to right; dw[i] starts from p[0][i] when
// `first` (no earlier chunk).
template <typename T>
__global__ void add_products_dev(const T* p, T* dw, int64_t ns, int64_t size, bool first,
                                 int64_t total) {
  RV_GRID_STRIDE(i, total) {
    T acc = first ? p[i] : dw[i] + p[i];
    for (int64_t n = 1; n < ns; ++n) acc += p[n * size + i];
    dw[i] = acc;
  }
}

template <typename T>
void launch_im2col(const Im2ColSpec& s, const T* img, T* col) {
  const int64_t total = s.planes * s.kh * s.kw * s.oh * s.ow;
  if (total == 0) return;
  im2col_kernel_dev<T><<<grid_for(total), kThreads, 0, current_stream()>>>(s, img, col, total);
  RV_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void launch_col2im(const Im2ColSpec& s, const T* col, T* img) {
  const int64_t total = s.planes * s.h * s.w;
  if (total == 0) return;
  col2im_kernel_dev<T><<<grid_for(total), kThreads, 0, current_stream()>>>(s, col, img, total);
  RV_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void launch_add_bias(T* x, const T* bias, int64_t count, int64_t channels, int64_t len) {
  const int64_t total = count * channels * len;
  if (total == 0 || bias == nullptr) return;
  add_bias_dev<T><<<grid_for(total), kThreads, 0, current_stream()>>>(x, bias, channels, len,
                                                                       total);
  RV_CUDA_CHECK(cudaGetLastError());
}

template <typename F>
void dispatch_float(DType t, const char* op, F&& f) {
  if (t == DType::Float32) return f(float{});
  if (t == DType::Float64) return f(double{});
  throw_error(ErrorKind::NotImplemented, str_cat(op, " has no CUDA kernel for dtype ",
                                                 dtype_name(t), " (float32 and float64 only)"));
}

void im2col_cuda(const Im2ColSpec& s, const char* img, char* col) {
  dispatch_float(s.dtype, "im2col", [&](auto z) {
    using T = decltype(z);
    launch_im2col(s, reinterpret_cast<const T*>(img), reinterpret_cast<T*>(col));
  });
}

void col2im_cuda(const Im2ColSpec& s, const char* col, char* img) {
  dispatch_float(s.dtype, "col2im", [&](auto z) {
    using T = decltype(z);
    launch_col2im(s, reinterpret_cast<const T*>(col), reinterpret_cast<T*>(img));
  });
}

// The per-sample sizes of a ConvGeom.
struct Dims {
  int64_t G, cig, cog, kk, K, L, HW, col;  // col: column elements of one sample
  Im2ColSpec plane;                        // planes set per use
};

Dims dims(const ConvGeom& g) {
  Dims d;
  d.G = g.groups;
  d.cig = g.ci / g.groups;
  d.cog = g.co / g.groups;
  d.kk = g.kh * g.kw;
  d.K = d.cig * d.kk;
  d.L = g.oh * g.ow;
  d.HW = g.h * g.w;
  d.col = g.ci * d.kk * d.L;
  Im2ColSpec& s = d.plane;
  s.dtype = g.dtype;
  s.h = g.h;
  s.w = g.w;
  s.oh = g.oh;
  s.ow = g.ow;
  s.kh = g.kh;
  s.kw = g.kw;
  s.dh = g.dh;
  s.dw = g.dw;
  s.ph = g.ph;
  s.pw = g.pw;
  s.sh = g.sh;
  s.sw = g.sw;
  return d;
}

int64_t chunk_samples(const Dims& d, int64_t n) {
  return std::max<int64_t>(1, std::min<int64_t>(n, kColBudget / std::max<int64_t>(d.col, 1)));
}

template <typename T>
void forward_t(const ConvGeom& g, const T* img, const T* wt, const T* bias, T* mat) {
  const Dims d = dims(g);
  if (g.n * g.co * d.L == 0) return;
  const int64_t S = chunk_samples(d, g.n);
  ScratchBuffer buf(size_t(S * d.col) * sizeof(T));
  T* cols = buf.as<T>();
  for (int64_t n0 = 0; n0 < g.n; n0 += S) {
    const int64_t ns = std::min(S, g.n - n0);
    Im2ColSpec sp = d.plane;
    sp.planes = ns * g.ci;
    launch_im2col(sp, img + n0 * g.ci * d.HW, cols);
    for (int64_t gi = 0; gi < d.G; ++gi)
      gemm_rm(g.dtype, false, false, d.cog, d.L, d.K, 1.0, wt + gi * d.cog * d.K, d.K, 0,
              cols + gi * d.K * d.L, d.L, d.col, 0.0, mat + (n0 * g.co + gi * d.cog) * d.L, d.L,
              g.co * d.L, ns);
  }
  launch_add_bias(mat, bias, g.n, g.co, d.L);
}

template <typename T>
void backward_data_t(const ConvGeom& g, const T* mat, const T* wt, const T* bias, T* img) {
  const Dims d = dims(g);
  if (g.n * g.ci * d.HW == 0) return;
  const int64_t S = chunk_samples(d, g.n);
  ScratchBuffer buf(size_t(S * d.col) * sizeof(T));
  T* cols = buf.as<T>();
  for (int64_t n0 = 0; n0 < g.n; n0 += S) {
    const int64_t ns = std::min(S, g.n - n0);
    for (int64_t gi = 0; gi < d.G; ++gi)
      gemm_rm(g.dtype, true, false, d.K, d.L, d.cog, 1.0, wt + gi * d.cog * d.K, d.K, 0,
              mat + (n0 * g.co + gi * d.cog) * d.L, d.L, g.co * d.L, 0.0, cols + gi * d.K * d.L,
              d.L, d.col, ns);
    Im2ColSpec sp = d.plane;
    sp.planes = ns * g.ci;
    launch_col2im(sp, cols, img + n0 * g.ci * d.HW);
  }
  launch_add_bias(img, bias, g.n, g.ci, d.HW);
}

template <typename T>
void weight_grad_t(const ConvGeom& g, const T* img, const T* mat, T* dw) {
  const Dims d = dims(g);
  const int64_t wsize = g.co * d.K;
  if (wsize == 0) return;
  if (g.n == 0 || d.L == 0) {
    RV_CUDA_CHECK(cudaMemsetAsync(dw, 0, size_t(wsize) * sizeof(T), current_stream()));
    return;
  }
  const int64_t S = chunk_samples(d, g.n);
  ScratchBuffer buf(size_t(S * d.col) * sizeof(T));
  // products of at most P samples at a time (scratch of P weight-sized matrices)
  const int64_t P = std::max<int64_t>(1, std::min<int64_t>(S, kProdBudget / wsize));
  ScratchBuffer prod(size_t(P * wsize) * sizeof(T));
  T* cols = buf.as<T>();
  T* p = prod.as<T>();
  for (int64_t n0 = 0; n0 < g.n; n0 += S) {
    const int64_t ns = std::min(S, g.n - n0);
    Im2ColSpec sp = d.plane;
    sp.planes = ns * g.ci;
    launch_im2col(sp, img + n0 * g.ci * d.HW, cols);
    for (int64_t s0 = 0; s0 < ns; s0 += P) {
      const int64_t np = std::min(P, ns - s0);
      for (int64_t gi = 0; gi < d.G; ++gi)
        gemm_rm(g.dtype, false, true, d.cog, d.K, d.L, 1.0,
                mat + ((n0 + s0) * g.co + gi * d.cog) * d.L, d.L, g.co * d.L,
                cols + s0 * d.col + gi * d.K * d.L, d.L, d.col, 0.0, p + gi * d.cog * d.K, d.K,
                wsize, np);
      add_products_dev<T><<<grid_for(wsize), kThreads, 0, current_stream()>>>(
          p, dw, np, wsize, n0 + s0 == 0, wsize);
      RV_CUDA_CHECK(cudaGetLastError());
    }
  }
}

template <typename T>
void backward_t(const ConvGeom& g, const T* img, const T* wt, const T* gmat, T* gimg, T* dw,
                T* db) {
  if (gimg) backward_data_t<T>(g, gmat, wt, nullptr, gimg);
  if (dw) weight_grad_t<T>(g, img, gmat, dw);
  if (db && g.co > 0) {
    const int64_t L = g.oh * g.ow;
    const unsigned blocks = unsigned(std::min<int64_t>(g.co, 65535));
    bias_grad_dev<T><<<blocks, kThreads, 0, current_stream()>>>(gmat, db, g.n, g.co, L);
    RV_CUDA_CHECK(cudaGetLastError());
  }
}

void forward_cuda(const ConvGeom& g, const char* img, const char* weight, const char* bias,
                  char* mat) {
  dispatch_float(g.dtype, "conv2d", [&](auto z) {
    using T = decltype(z);
    forward_t(g, reinterpret_cast<const T*>(img), reinterpret_cast<const T*>(weight),
              reinterpret_cast<const T*>(bias), reinterpret_cast<T*>(mat));
  });
}

void backward_data_cuda(const ConvGeom& g, const char* mat, const char* weight, const char* bias,
                        char* img) {
  dispatch_float(g.dtype, "conv_transpose2d", [&](auto z) {
    using T = decltype(z);
    backward_data_t(g, reinterpret_cast<const T*>(mat), reinterpret_cast<const T*>(weight),
                    reinterpret_cast<const T*>(bias), reinterpret_cast<T*>(img));
  });
}

void weight_grad_cuda(const ConvGeom& g, const char* img, const char* mat, char* dweight) {
  dispatch_float(g.dtype, "conv2d_weight_grad", [&](auto z) {
    using T = decltype(z);
    weight_grad_t(g, reinterpret_cast<const T*>(img), reinterpret_cast<const T*>(mat),
                  reinterpret_cast<T*>(dweight));
  });
}

void backward_cuda(const ConvGeom& g, const char* img, const char* weight, const char* gmat,
                   char* gimg, char* dweight, char* dbias) {
  dispatch_float(g.dtype, "conv2d_backward", [&](auto z) {
    using T = decltype(z);
    backward_t(g, reinterpret_cast<const T*>(img), reinterpret_cast<const T*>(weight),
               reinterpret_cast<const T*>(gmat), reinterpret_cast<T*>(gimg),
               reinterpret_cast<T*>(dweight), reinterpret_cast<T*>(dbias));
  });
}

}  // namespace

void register_conv_cuda() {
  im2col_kernel.set(DeviceType::CUDA, &im2col_cuda);
  col2im_kernel.set(DeviceType::CUDA, &col2im_cuda);
  conv_forward_kernel.set(DeviceType::CUDA, &forward_cuda);
  conv_backward_data_kernel.set(DeviceType::CUDA, &backward_data_cuda);
  conv_weight_grad_kernel.set(DeviceType::CUDA, &weight_grad_cuda);
  conv_backward_kernel.set(DeviceType::CUDA, &backward_cuda);
}

}  // namespace ranvier::cuda
