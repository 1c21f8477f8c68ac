// CPU kernels of the fused convolutions (ConvGeom, ops/conv.h): per sample, im2col into a
// private column buffer and one OpenBLAS GEMM per group (a 1x1 / stride 1 / no padding
// convolution reads the image as its own column matrix), the bias added in the same pass.
// Threads: with more than one thread and a batch, samples are spread over our OpenMP threads
// and OpenBLAS runs single-threaded; otherwise samples run in order, each GEMM on all threads.
// Measured (N=64, 32 -> 64 channels of 14x14, 3x3, 2 threads, best of 40 on a loaded machine):
// spread 3.3 ms forward / 27 ms forward + backward vs 15 ms / 51 ms with threaded GEMMs.
// Either way every GEMM call has the same shape and operands, so results do not depend on the
// thread count. The weight gradient sums over the batch in fixed chunks of kChunk samples
// (one partial per chunk, partials added in chunk order), never split by thread count.
// Per geometry the work goes elsewhere first: depthwise -> conv_direct; 3x3 stride 1 with >= 16
// channels each side -> Winograd (conv_winograd); 3x3 stride 1 from one float32 input channel
// on AVX-512 or AVX2 -> conv_single_channel. The choice depends on the geometry, dtype and CPU only.
// conv2d's backward runs as one kernel (ConvBackwardKernel: input, weight and bias gradients).
#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_single_channel.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/im2col.h"
#include "ops/conv.h"

namespace ranvier::cpu {

namespace {

constexpr int64_t kChunk = 8;  // samples per partial weight gradient

// Depthwise convolutions (one input and one output channel per group) run the direct kernels:
// per channel, a GEMM would have M = 1 and K = kh * kw (measured, N=64, 32 channels of 14x14,
// 3x3, forward + backward, 2 threads: 2.5 ms direct vs 2.6-2.8 ms GEMM). Convolutions of a
// single input channel stay on GEMM: the direct kernel (built without AVX, see conv_direct.h)
// took 3.8 ms vs 0.34 ms forward for N=64, 1 -> 32 channels of 28x28, 3x3 (3x3 stride-1
// float32 ones on AVX-512 or AVX2 go to conv_single_channel instead).
bool use_direct(const ConvGeom& g) { return conv_direct_applies(g) && g.co == g.ci; }

struct Dims {
  int64_t G, cig, cog, kk, K, L, HW;
  bool pointwise;  // im2col is the identity
  Im2ColSpec plane;
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
  d.pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 &&
                g.oh == g.h && g.ow == g.w;
  Im2ColSpec& s = d.plane;
  s.dtype = g.dtype;
  s.planes = 1;
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

bool spread_over_threads(int64_t items) {
  return items > 1 && get_num_threads() > 1 && !in_parallel_region();
}

// Runs f(i, buffer) for i in [0, items), each call with a private buffer of buf_len elements.
template <typename T, typename F>
void for_each_item(int64_t items, int64_t buf_len, const F& f) {
  if (spread_over_threads(items)) {
    parallel_for(0, items, 1, [&](int64_t b, int64_t e) {
      std::vector<T> buf(size_t(std::max<int64_t>(buf_len, 1)));
      for (int64_t i = b; i < e; ++i) f(i, buf.data());
    });
    return;
  }
  std::vector<T> buf(size_t(std::max<int64_t>(buf_len, 1)));
  for (int64_t i = 0; i < items; ++i) f(i, buf.data());
}

template <typename T>
void im2col_sample(const Dims& d, int64_t planes, const T* img, T* col) {
  for (int64_t p = 0; p < planes; ++p) im2col_plane(d.plane, img + p * d.HW, col + p * d.kk * d.L);
}

template <typename T>
void add_bias(T* out, const T* bias, int64_t channels, int64_t len) {
  for (int64_t c = 0; c < channels; ++c) {
    const T b = bias[c];
    T* row = out + c * len;
    for (int64_t i = 0; i < len; ++i) row[i] += b;
  }
}

// Forward, one sample at a time: im2col into the buffer (none for 1x1 without padding or
// stride: the image is its own column matrix), GEMMs straight into the output.
template <typename T>
void forward_per_sample(const ConvGeom& g, const Dims& d, const T* img, const T* wt,
                        const T* bias, T* mat) {
  for_each_item<T>(g.n, d.pointwise ? 0 : g.ci * d.kk * d.L, [&](int64_t n, T* buf) {
    const T* x = img + n * g.ci * d.HW;
    T* y = mat + n * g.co * d.L;
    const T* cols = x;
    if (!d.pointwise) {
      im2col_sample(d, g.ci, x, buf);
      cols = buf;
    }
    for (int64_t gi = 0; gi < d.G; ++gi)
      gemm<T>(false, false, d.cog, d.L, d.K, wt + gi * d.cog * d.K, d.K, cols + gi * d.K * d.L,
              d.L, 0.0, y + gi * d.cog * d.L, d.L);
    if (bias) add_bias(y, bias, g.co, d.L);
  });
}

// Forward: samples in fixed chunks of S (columns of up to ~2 MB of floats), the chunk's
// columns side by side ([K, S * L] per group) so that each group is one wider GEMM; the result
// [co, S * L] is then copied to the samples' outputs with the bias. Measured (N=64, 32 -> 64
// channels of 14x14, 3x3, one thread): 6.4 ms vs 7.6 ms with one GEMM per sample. With a short
// inner dimension (K = 9 for 1 -> 32 channels of 28x28) the extra copy costs more than it saves
// (2.0-2.3 ms vs 1.4 ms forward + weight gradient), so K < 64 stays per sample.
template <typename T>
void forward_t(const ConvGeom& g, const T* img, const T* wt, const T* bias, T* mat) {
  if (use_direct(g)) return conv_direct_forward(g, img, wt, bias, mat);
  if (winograd_applies(g)) return winograd_forward(g, img, wt, bias, mat);
  if constexpr (std::is_same_v<T, float>) {
    if (single_channel_applies(g))
      return for_each_item<T>(g.n, 0, [&](int64_t n, T*) {
        single_channel_forward(g, n, img, wt, bias, mat);
      });
  }
  const Dims d = dims(g);
  const int64_t per = g.ci * d.kk * d.L;  // column elements of one sample
  int64_t S = std::min<int64_t>(16, (int64_t(1) << 19) / std::max<int64_t>(per, 1));
  S = std::max<int64_t>(1, std::min(S, g.n));
  if (d.pointwise || d.K < 64 || S == 1) return forward_per_sample(g, d, img, wt, bias, mat);
  const int64_t chunks = (g.n + S - 1) / S;
  for_each_item<T>(chunks, S * per + g.co * S * d.L, [&](int64_t c, T* buf) {
    const int64_t n0 = c * S, ns = std::min(S, g.n - n0), ld = ns * d.L;
    T* cols = buf;
    T* res = buf + S * per;
    for (int64_t s = 0; s < ns; ++s) {
      const T* x = img + (n0 + s) * g.ci * d.HW;
      for (int64_t p = 0; p < g.ci; ++p)
        im2col_plane(d.plane, x + p * d.HW, cols + p * d.kk * ld + s * d.L, ld);
    }
    for (int64_t gi = 0; gi < d.G; ++gi)
      gemm<T>(false, false, d.cog, ld, d.K, wt + gi * d.cog * d.K, d.K, cols + gi * d.K * ld, ld,
              0.0, res + gi * d.cog * ld, ld);
    for (int64_t s = 0; s < ns; ++s) {
      T* y = mat + (n0 + s) * g.co * d.L;
      for (int64_t o = 0; o < g.co; ++o) {
        const T* src = res + o * ld + s * d.L;
        T* dst = y + o * d.L;
        if (bias) {
          const T b = bias[o];
          for (int64_t i = 0; i < d.L; ++i) dst[i] = src[i] + b;
        } else {
          std::copy(src, src + d.L, dst);
        }
      }
    }
  });
}

template <typename T>
void backward_data_t(const ConvGeom& g, const T* mat, const T* wt, const T* bias, T* img) {
  if (use_direct(g)) return conv_direct_backward_data(g, mat, wt, bias, img);
  const Dims d = dims(g);
  if (winograd_applies(g)) {
    winograd_backward_data(g, mat, wt, img);
    if (bias)
      for (int64_t n = 0; n < g.n; ++n) add_bias(img + n * g.ci * d.HW, bias, g.ci, d.HW);
    return;
  }
  for_each_item<T>(g.n, d.pointwise ? 0 : g.ci * d.kk * d.L, [&](int64_t n, T* buf) {
    const T* m = mat + n * g.co * d.L;
    T* x = img + n * g.ci * d.HW;
    T* cols = d.pointwise ? x : buf;
    for (int64_t gi = 0; gi < d.G; ++gi)
      gemm<T>(true, false, d.K, d.L, d.cog, wt + gi * d.cog * d.K, d.K, m + gi * d.cog * d.L,
              d.L, 0.0, cols + gi * d.K * d.L, d.L);
    if (!d.pointwise)
      for (int64_t p = 0; p < g.ci; ++p)
        col2im_plane(d.plane, cols + p * d.kk * d.L, x + p * d.HW);
    if (bias) add_bias(x, bias, g.ci, d.HW);
  });
}

// dw (+)= sum over samples [n0, n1) in order; beta 0 for the first.
template <typename T>
void weight_grad_range(const ConvGeom& g, const Dims& d, const T* img, const T* mat, int64_t n0,
                       int64_t n1, T* dw, T* buf) {
  for (int64_t n = n0; n < n1; ++n) {
    const T* x = img + n * g.ci * d.HW;
    const T* m = mat + n * g.co * d.L;
    const T* cols = x;
    if (!d.pointwise) {
      im2col_sample(d, g.ci, x, buf);
      cols = buf;
    }
    for (int64_t gi = 0; gi < d.G; ++gi)
      gemm<T>(false, true, d.cog, d.K, d.L, m + gi * d.cog * d.L, d.L, cols + gi * d.K * d.L,
              d.L, n == n0 ? 0.0 : 1.0, dw + gi * d.cog * d.K, d.K);
  }
}

template <typename T>
void weight_grad_t(const ConvGeom& g, const T* img, const T* mat, T* dw) {
  const Dims d = dims(g);
  const int64_t wsize = g.co * d.K;
  if (wsize == 0) return;
  if (g.n == 0) {
    std::fill(dw, dw + wsize, T(0));
    return;
  }
  if (use_direct(g)) return conv_direct_weight_grad(g, img, mat, dw);
  if (winograd_applies(g)) return winograd_weight_grad(g, img, mat, dw, kChunk);
  const int64_t buf_len = d.pointwise ? 0 : g.ci * d.kk * d.L;
  const int64_t chunks = (g.n + kChunk - 1) / kChunk;
  if (chunks == 1) {
    std::vector<T> buf(size_t(std::max<int64_t>(buf_len, 1)));
    weight_grad_range(g, d, img, mat, 0, g.n, dw, buf.data());
    return;
  }
  std::vector<T> partial(size_t(chunks * wsize));
  for_each_item<T>(chunks, buf_len, [&](int64_t c, T* buf) {
    weight_grad_range(g, d, img, mat, c * kChunk, std::min(g.n, (c + 1) * kChunk),
                      partial.data() + c * wsize, buf);
  });
  // serial: a few hundred thousand adds cost less than waking the threads again
  const T* p = partial.data();
  std::copy(p, p + wsize, dw);
  for (int64_t c = 1; c < chunks; ++c)
    for (int64_t i = 0; i < wsize; ++i) dw[i] += p[c * wsize + i];
}

// The whole conv2d backward (ConvBackwardKernel). Samples go in fixed chunks of kChunk: each
// chunk's thread computes, sample by sample, the chunk's partial weight and bias gradients and
// (unless done apart) the samples' input gradients; partials are added in chunk order after.
// One parallel region instead of three plus a reduction over the output gradient for the bias.
// With fewer chunks than threads the input gradient runs first in its own per-sample region
// (its values do not depend on where it runs).
template <typename T>
void backward_t(const ConvGeom& g, const T* img, const T* wt, const T* gmat, T* gimg, T* dw,
                T* db) {
  const Dims d = dims(g);
  const int64_t wsize = g.co * d.K;
  if (g.n == 0) {
    if (dw) std::fill(dw, dw + wsize, T(0));
    if (db) std::fill(db, db + g.co, T(0));
    return;
  }
  if (winograd_applies(g)) return winograd_backward(g, img, wt, gmat, gimg, dw, db, kChunk);
  if constexpr (std::is_same_v<T, float>) {
    if (single_channel_applies(g) && (dw || db)) {
      if (gimg) backward_data_t<T>(g, gmat, wt, nullptr, gimg);
      single_channel_weight_grad(g, img, gmat, dw, db);
      return;
    }
  }
  const bool direct = use_direct(g);
  const int64_t chunks = (g.n + kChunk - 1) / kChunk;
  const bool x_apart = gimg && (direct || chunks < get_num_threads());
  if (x_apart) backward_data_t<T>(g, gmat, wt, nullptr, gimg);
  if (direct && dw) conv_direct_weight_grad(g, img, gmat, dw);
  T* gx = x_apart ? nullptr : gimg;
  T* gw = direct ? nullptr : dw;
  if (!gx && !gw && !db) return;
  const int64_t col_len = d.pointwise ? 0 : g.ci * d.kk * d.L;
  const int64_t buf_len = (gw ? col_len : 0) + (gx ? col_len : 0);
  std::vector<T> pw(size_t(gw ? chunks * wsize : 0)), pb(size_t(db ? chunks * g.co : 0));
  for_each_item<T>(chunks, buf_len, [&](int64_t c, T* buf) {
    const int64_t n0 = c * kChunk, n1 = std::min(g.n, n0 + kChunk);
    T* cols_x = buf;
    T* cols_g = gw ? buf + col_len : buf;
    for (int64_t n = n0; n < n1; ++n) {
      const T* x = img + n * g.ci * d.HW;
      const T* m = gmat + n * g.co * d.L;
      if (gw) {
        const T* cols = x;
        if (!d.pointwise) {
          im2col_sample(d, g.ci, x, cols_x);
          cols = cols_x;
        }
        for (int64_t gi = 0; gi < d.G; ++gi)
          gemm<T>(false, true, d.cog, d.K, d.L, m + gi * d.cog * d.L, d.L, cols + gi * d.K * d.L,
                  d.L, n == n0 ? 0.0 : 1.0, pw.data() + c * wsize + gi * d.cog * d.K, d.K);
      }
      if (db) {
        T* b = pb.data() + c * g.co;
        for (int64_t o = 0; o < g.co; ++o) {
          const T s = row_sum(m + o * d.L, d.L);
          b[o] = n == n0 ? s : b[o] + s;
        }
      }
      if (gx) {
        T* xo = gx + n * g.ci * d.HW;
        T* cols = d.pointwise ? xo : cols_g;
        for (int64_t gi = 0; gi < d.G; ++gi)
          gemm<T>(true, false, d.K, d.L, d.cog, wt + gi * d.cog * d.K, d.K, m + gi * d.cog * d.L,
                  d.L, 0.0, cols + gi * d.K * d.L, d.L);
        if (!d.pointwise)
          for (int64_t p = 0; p < g.ci; ++p)
            col2im_plane(d.plane, cols + p * d.kk * d.L, xo + p * d.HW);
      }
    }
  });
  auto add_partials = [&](const std::vector<T>& part, int64_t len, T* dst) {
    const T* p = part.data();
    std::copy(p, p + len, dst);
    for (int64_t c = 1; c < chunks; ++c)
      for (int64_t i = 0; i < len; ++i) dst[i] += p[c * len + i];
  };
  if (gw) add_partials(pw, wsize, gw);
  if (db) add_partials(pb, g.co, db);
}

void backward_cpu(const ConvGeom& g, const char* img, const char* weight, const char* gmat,
                  char* gimg, char* dweight, char* dbias) {
  RV_DISPATCH_FLOAT(g.dtype, "conv2d_backward", [&] {
    using T = scalar_t;
    backward_t(g, reinterpret_cast<const T*>(img), reinterpret_cast<const T*>(weight),
               reinterpret_cast<const T*>(gmat), reinterpret_cast<T*>(gimg),
               reinterpret_cast<T*>(dweight), reinterpret_cast<T*>(dbias));
  });
}

void forward_cpu(const ConvGeom& g, const char* img, const char* weight, const char* bias,
                 char* mat) {
  RV_DISPATCH_FLOAT(g.dtype, "conv2d", [&] {
    forward_t(g, reinterpret_cast<const scalar_t*>(img),
              reinterpret_cast<const scalar_t*>(weight),
              reinterpret_cast<const scalar_t*>(bias), reinterpret_cast<scalar_t*>(mat));
  });
}

void backward_data_cpu(const ConvGeom& g, const char* mat, const char* weight, const char* bias,
                       char* img) {
  RV_DISPATCH_FLOAT(g.dtype, "conv_transpose2d", [&] {
    backward_data_t(g, reinterpret_cast<const scalar_t*>(mat),
                    reinterpret_cast<const scalar_t*>(weight),
                    reinterpret_cast<const scalar_t*>(bias), reinterpret_cast<scalar_t*>(img));
  });
}

void weight_grad_cpu(const ConvGeom& g, const char* img, const char* mat, char* dweight) {
  RV_DISPATCH_FLOAT(g.dtype, "conv2d_weight_grad", [&] {
    weight_grad_t(g, reinterpret_cast<const scalar_t*>(img),
                  reinterpret_cast<const scalar_t*>(mat), reinterpret_cast<scalar_t*>(dweight));
  });
}

}  // namespace

namespace {

// Note [Fused patterns]: conv -> relu -> 2x2 max pool where conv2d itself would run the
// Winograd or the one-channel kernels (the order of forward_cpu's choices), whose fused
// versions give the same bits.
bool relu_pool_applies(const ConvGeom& g) {
  if (g.dtype != DType::Float32 || g.oh % 2 != 0 || g.ow % 2 != 0 || use_direct(g)) return false;
  if (winograd_applies(g)) return winograd_relu_pool_usable();
  return single_channel_applies(g);
}

void relu_pool_forward(const ConvGeom& g, const float* img, const float* wt, const float* bias,
                       float* pooled, uint8_t* codes) {
  if (winograd_applies(g)) return winograd_relu_pool_forward(g, img, wt, bias, pooled, codes);
  single_channel_relu_pool_forward(g, img, wt, bias, pooled, codes);
}

bool relu_pool_backward(const ConvGeom& g, const float* img, const float* wt, const float* gpool,
                        const uint8_t* codes, float* gimg, float* dw, float* db) {
  if (winograd_applies(g)) {
    winograd_relu_pool_backward(g, img, wt, gpool, codes, gimg, dw, db, kChunk);
    return true;
  }
  if (gimg) return false;  // the one-channel kernels have no input gradient
  single_channel_relu_pool_weight_grad(g, img, gpool, codes, dw, db);
  return true;
}

}  // namespace

void register_conv_gemm_cpu() {
  conv_relu_pool_cpu.applies = &relu_pool_applies;
  conv_relu_pool_cpu.forward = &relu_pool_forward;
  conv_relu_pool_cpu.backward = &relu_pool_backward;
  conv_forward_kernel.set(DeviceType::CPU, &forward_cpu);
  conv_backward_data_kernel.set(DeviceType::CPU, &backward_data_cpu);
  conv_weight_grad_kernel.set(DeviceType::CPU, &weight_grad_cpu);
  conv_backward_kernel.set(DeviceType::CPU, &backward_cpu);
}

}  // namespace ranvier::cpu
