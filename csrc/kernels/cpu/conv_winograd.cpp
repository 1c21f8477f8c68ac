// Winograd F(2x2, 3x3) convolutions (see conv_winograd.h). Per chunk of samples: the input
// tiles (4x4, stride 2) are transformed to V[16][C][tiles], the filters to U[16][O][C], and
// 16 GEMMs U[k] @ V[k] give M[16][O][tiles], transformed back to 2x2 output blocks. Transforms:
// V = Bt d B, U = G g Gt, Y = At M A with
//   Bt = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   At = [1 1 1 0; 0 1 -1 -1].
// The weight gradient is dU[k] = sum over tiles of (A dY At)[k] * V[k], then dg = Gt dU G;
// the input gradient dV[k] = U[k]^T (A dY At)[k], then dd = B dV Bt summed over the tiles'
// overlapping input windows (the forward input transform's transpose,
// conv_winograd_input_grad.cpp).
#include "kernels/cpu/conv_winograd.h"
#include "core/cpu_capability.h"

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/blas.h"

namespace ranvier::cpu {

bool winograd_avx512_usable();  // kernels/cpu/conv_winograd_avx512.cpp
void winograd_input_avx512(const float* x, int64_t planes, int64_t h, int64_t w, int64_t ph,
                           int64_t pw, int64_t th, int64_t tw, float* V, int64_t ld, int64_t t0);
void winograd_output_avx512(const float* M, int64_t O, int64_t oh, int64_t ow, int64_t th,
                            int64_t tw, int64_t ld, int64_t t0, const float* bias, float* out);
void winograd_grad_avx512(const float* gy, int64_t O, int64_t oh, int64_t ow, int64_t th,
                          int64_t tw, float* Z, int64_t ld, int64_t t0);
void winograd_output_relu_pool_avx512(const float* M, int64_t O, int64_t tiles, int64_t ld,
                                      int64_t t0, const float* bias, float* pooled,
                                      uint8_t* codes);
void winograd_spread_avx512(const float* gpool, const uint8_t* codes, int64_t planes, int64_t oh,
                            int64_t ow, float* out);
bool winograd_avx2_usable();  // kernels/cpu/conv_winograd_avx2.cpp
void winograd_input_avx2(const float* x, int64_t planes, int64_t h, int64_t w, int64_t ph,
                         int64_t pw, int64_t th, int64_t tw, float* V, int64_t ld, int64_t t0);
void winograd_output_avx2(const float* M, int64_t O, int64_t oh, int64_t ow, int64_t th,
                          int64_t tw, int64_t ld, int64_t t0, const float* bias, float* out);
void winograd_grad_avx2(const float* gy, int64_t O, int64_t oh, int64_t ow, int64_t th,
                        int64_t tw, float* Z, int64_t ld, int64_t t0);
void winograd_output_relu_pool_avx2(const float* M, int64_t O, int64_t tiles, int64_t ld,
                                    int64_t t0, const float* bias, float* pooled,
                                    uint8_t* codes);
void winograd_spread_avx2(const float* gpool, const uint8_t* codes, int64_t planes, int64_t oh,
                          int64_t ow, float* out);
void winograd_grad_pooled_avx2(const float* gpool, const uint8_t* codes, int64_t O,
                               int64_t tiles, float* Z, int64_t ld, int64_t t0);
void winograd_input_grad_avx2(const float* dV, int64_t planes, int64_t h, int64_t w, int64_t ph,
                              int64_t pw, int64_t th, int64_t tw, int64_t ld, int64_t t0,
                              float* gx);
template <typename T>  // kernels/cpu/conv_winograd_input_grad.cpp
void winograd_input_grad_portable(const T* dV, int64_t planes, int64_t h, int64_t w,
                                  int64_t ph, int64_t pw, int64_t th, int64_t tw, int64_t ld,
                                  int64_t t0, T* gx);

namespace {

// Samples transformed and multiplied together: 2 keeps one chunk's transformed tiles (~0.6 MB
// for 32 -> 64 channels of 14x14) in L2; measured (N=64, that shape, one thread, forward /
// forward + backward): 8 samples 3.8 / 13.6 ms, 4: 3.3 / 11.5 ms, 2: 3.2 / 11.1 ms. The weight
// gradient's partial sums still cover fixed chunks of the caller's size.
constexpr int64_t kSamples = 2;
// ... unless one sample's transformed tiles are large (big images, many channels): then one.
// Depends on the geometry only (never on the thread count).
int64_t samples_per_step(int64_t channels, int64_t tiles, size_t elem) {
  return double(16 * channels * tiles) * double(elem) * kSamples <= double(8 << 20) ? kSamples
                                                                                     : 1;
}

// Runs f(item, buffer) for each item, items handed out one at a time to the threads (a busier
// core takes fewer; what an item computes does not depend on the thread), OpenBLAS
// single-threaded.
// Buffers up to 8 MB are each thread's own, kept between calls: a fresh one of a few hundred
// KB per call came from mmap and page faults every time (glibc returns it on free).
template <typename T, typename F>
void for_items(int64_t items, int64_t buf_len, const F& f) {
  auto run = [&](int64_t b, int64_t e) {
    const size_t len = size_t(std::max<int64_t>(buf_len, 1));
    static thread_local std::vector<T> kept;
    std::vector<T> own;
    T* buf = nullptr;
    if (len * sizeof(T) <= (size_t(8) << 20)) {
      if (kept.size() < len) kept.resize(len);
      buf = kept.data();
    } else {
      own.resize(len);
      buf = own.data();
    }
    for (int64_t i = b; i < e; ++i) f(i, buf);
  };
  if (items > 1 && get_num_threads() > 1 && !in_parallel_region()) {
    parallel_items(0, items, [&](const auto& next) {
      for (int64_t i = next(); i >= 0; i = next()) run(i, i + 1);
    });
  } else {
    run(0, items);
  }
}

// U[16][rows][cols] from filters g: element (r, c) is the 3x3 filter at f + r * rs + c * cs.
template <typename T>
void transform_filters(const T* f, int64_t rows, int64_t cols, int64_t rs, int64_t cs, T* U) {
  const int64_t plane = rows * cols;
  // rows spread over the threads (each filter on its own; serial, this was ~1% of the cnn step
  // with the other thread waiting)
  parallel_for(0, rows, std::max<int64_t>(1, 256 / std::max<int64_t>(cols, 1)), [&](int64_t r0,
                                                                                   int64_t r1) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const T* s = f + r * rs + c * cs;
      T g[3][3];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) g[i][j] = s[i * 3 + j];
      T t[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[0][j];
        t[1][j] = T(0.5) * (g[0][j] + g[1][j] + g[2][j]);
        t[2][j] = T(0.5) * (g[0][j] - g[1][j] + g[2][j]);
        t[3][j] = g[2][j];
      }
      for (int i = 0; i < 4; ++i) {  // (G g) Gt
        const T u[4] = {t[i][0], T(0.5) * (t[i][0] + t[i][1] + t[i][2]),
                        T(0.5) * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j) U[(i * 4 + j) * plane + r * cols + c] = u[j];
      }
    }
  });
}

struct Tiling {
  int64_t th, tw, per;  // tiles down, across, per sample
};
Tiling tiling(int64_t oh, int64_t ow) {
  const int64_t th = (oh + 1) / 2, tw = (ow + 1) / 2;
  return {th, tw, th * tw};
}

// The transforms work on one row of tiles at a time, loops running across the row's tiles
// (contiguous, so they vectorise), with the input rows zero-padded into a scratch buffer and
// split into even and odd columns first.

// Scratch for one row of tiles: 4 padded rows split in even/odd columns, 16 rows of results.
template <typename T>
struct RowScratch {
  std::vector<T> even, odd, r;
  int64_t tw;
  explicit RowScratch(int64_t tw_)
      : even(size_t(4 * (tw_ + 1))), odd(size_t(4 * (tw_ + 1))), r(size_t(16 * tw_)), tw(tw_) {}
};

// Which transforms run: float takes the vector ones of the CPU capability in use (Note [CPU
// capability]). The AVX2 ones give the portable bits; the AVX-512 gradient transform negates
// as 0 - x, so a zero there may have the other sign than the portable -x.
enum class Transforms { Portable, Avx2, Avx512 };

template <typename T>
Transforms vector_transforms() {
  if constexpr (std::is_same_v<T, float>) {
    static const Transforms t = winograd_avx512_usable() ? Transforms::Avx512
                                : winograd_avx2_usable() ? Transforms::Avx2
                                                         : Transforms::Portable;
    return t;
  }
  return Transforms::Portable;
}

// The fused relu -> pool pieces (Note [Fused patterns]) exist as vector code only: callers
// check winograd_relu_pool_usable() first.
void output_relu_pool(const float* M, int64_t O, int64_t tiles, int64_t ld, int64_t t0,
                      const float* bias, float* pooled, uint8_t* codes) {
  if (vector_transforms<float>() == Transforms::Avx512)
    return winograd_output_relu_pool_avx512(M, O, tiles, ld, t0, bias, pooled, codes);
  winograd_output_relu_pool_avx2(M, O, tiles, ld, t0, bias, pooled, codes);
}

void spread_pooled_grad(const float* gpool, const uint8_t* codes, int64_t planes, int64_t oh,
                        int64_t ow, float* out) {
  if (vector_transforms<float>() == Transforms::Avx512)
    return winograd_spread_avx512(gpool, codes, planes, oh, ow, out);
  winograd_spread_avx2(gpool, codes, planes, oh, ow, out);
}

// V[16][C][ld] columns t0 + (tile) of `planes` planes of h x w, tiles at (2ty - ph, 2tx - pw).
template <typename T>
void transform_input_portable(const T* x, int64_t planes, int64_t h, int64_t w, int64_t ph,
                              int64_t pw, const Tiling& tl, T* V, int64_t ld, int64_t t0,
                              RowScratch<T>& sc) {
  const int64_t kstride = planes * ld, tw = tl.tw, wp = tw + 1;
  T* E = sc.even.data();
  T* Od = sc.odd.data();
  T* R = sc.r.data();
  for (int64_t c = 0; c < planes; ++c) {
    const T* p = x + c * h * w;
    for (int64_t ty = 0; ty < tl.th; ++ty) {
      const int64_t r0 = 2 * ty - ph;
      for (int i = 0; i < 4; ++i) {  // padded row r0 + i, split by column parity
        T* e = E + i * wp;
        T* od = Od + i * wp;
        const int64_t r = r0 + i;
        if (r < 0 || r >= h) {
          std::fill(e, e + wp, T(0));
          std::fill(od, od + wp, T(0));
          continue;
        }
        const T* row = p + r * w;
        for (int64_t k = 0; k < wp; ++k) {
          const int64_t c0 = 2 * k - pw, c1 = c0 + 1;
          e[k] = c0 >= 0 && c0 < w ? row[c0] : T(0);
          od[k] = c1 >= 0 && c1 < w ? row[c1] : T(0);
        }
      }
      for (int i = 0; i < 4; ++i) {  // d B per row
        const T* e = E + i * wp;
        const T* od = Od + i * wp;
        T* r = R + i * 4 * tw;
        for (int64_t t = 0; t < tw; ++t) {
          r[t] = e[t] - e[t + 1];
          r[tw + t] = od[t] + e[t + 1];
          r[2 * tw + t] = e[t + 1] - od[t];
          r[3 * tw + t] = od[t] - od[t + 1];
        }
      }
      T* v = V + c * ld + t0 + ty * tw;
      for (int j = 0; j < 4; ++j) {  // Bt (d B)
        const T* q0 = R + (0 * 4 + j) * tw;
        const T* q1 = R + (1 * 4 + j) * tw;
        const T* q2 = R + (2 * 4 + j) * tw;
        const T* q3 = R + (3 * 4 + j) * tw;
        T* v0 = v + (0 * 4 + j) * kstride;
        T* v1 = v + (1 * 4 + j) * kstride;
        T* v2 = v + (2 * 4 + j) * kstride;
        T* v3 = v + (3 * 4 + j) * kstride;
        for (int64_t t = 0; t < tw; ++t) {
          v0[t] = q0[t] - q2[t];
          v1[t] = q1[t] + q2[t];
          v2[t] = q2[t] - q1[t];
          v3[t] = q1[t] - q3[t];
        }
      }
    }
  }
}

// out planes [O][oh][ow] of one sample from M[16][O][ld] columns t0 + (tile), plus bias.
template <typename T>
void transform_output_portable(const T* M, int64_t O, int64_t oh, int64_t ow, const Tiling& tl,
                      int64_t ld, int64_t t0, const T* bias, T* out, RowScratch<T>& sc) {
  const int64_t kstride = O * ld, tw = tl.tw;
  T* Q = sc.r.data();  // [2][4][tw]: At m
  T* Y = sc.even.data();  // [2][2 * tw + ...]: the two output rows (even/odd scratch reused)
  for (int64_t o = 0; o < O; ++o) {
    const T b = bias ? bias[o] : T(0);
    T* y = out + o * oh * ow;
    for (int64_t ty = 0; ty < tl.th; ++ty) {
      const T* m = M + o * ld + t0 + ty * tw;
      for (int j = 0; j < 4; ++j) {
        const T* m0 = m + (0 * 4 + j) * kstride;
        const T* m1 = m + (1 * 4 + j) * kstride;
        const T* m2 = m + (2 * 4 + j) * kstride;
        const T* m3 = m + (3 * 4 + j) * kstride;
        T* qa = Q + j * tw;
        T* qb = Q + (4 + j) * tw;
        for (int64_t t = 0; t < tw; ++t) {
          qa[t] = m0[t] + m1[t] + m2[t];
          qb[t] = m1[t] - m2[t] - m3[t];
        }
      }
      const int64_t r0 = 2 * ty;
      for (int i = 0; i < 2 && r0 + i < oh; ++i) {
        const T* q0 = Q + (i * 4 + 0) * tw;
        const T* q1 = Q + (i * 4 + 1) * tw;
        const T* q2 = Q + (i * 4 + 2) * tw;
        const T* q3 = Q + (i * 4 + 3) * tw;
        T* ya = Y;
        T* yb = Y + tw;
        for (int64_t t = 0; t < tw; ++t) {
          ya[t] = q0[t] + q1[t] + q2[t] + b;
          yb[t] = q1[t] - q2[t] - q3[t] + b;
        }
        T* dst = y + (r0 + i) * ow;
        const int64_t full = ow / 2;
        for (int64_t t = 0; t < full; ++t) {
          dst[2 * t] = ya[t];
          dst[2 * t + 1] = yb[t];
        }
        if (ow % 2) dst[ow - 1] = ya[full];
      }
    }
  }
}

// Z[16][O][ld] columns t0 + (tile) = A dY At of the 2x2 output-gradient blocks (zero outside).
template <typename T>
void transform_grad_portable(const T* gy, int64_t O, int64_t oh, int64_t ow, const Tiling& tl, T* Z,
                    int64_t ld, int64_t t0, RowScratch<T>& sc) {
  const int64_t kstride = O * ld, tw = tl.tw;
  T* Ev = sc.even.data();  // [2][tw]: even columns of the two rows
  T* Ov = sc.odd.data();   // [2][tw]: odd columns
  for (int64_t o = 0; o < O; ++o) {
    const T* p = gy + o * oh * ow;
    for (int64_t ty = 0; ty < tl.th; ++ty) {
      const int64_t r0 = 2 * ty;
      for (int i = 0; i < 2; ++i) {
        T* e = Ev + i * tw;
        T* od = Ov + i * tw;
        if (r0 + i >= oh) {
          std::fill(e, e + tw, T(0));
          std::fill(od, od + tw, T(0));
          continue;
        }
        const T* row = p + (r0 + i) * ow;
        const int64_t full = ow / 2;
        for (int64_t t = 0; t < full; ++t) {
          e[t] = row[2 * t];
          od[t] = row[2 * t + 1];
        }
        if (ow % 2) {
          e[full] = row[ow - 1];
          od[full] = T(0);
        }
      }
      T* z = Z + o * ld + t0 + ty * tw;
      const T* e0 = Ev;
      const T* e1 = Ev + tw;
      const T* o0 = Ov;
      const T* o1 = Ov + tw;
      // A dY: rows y0, y0 + y1, y0 - y1, -y1 (per column parity); then At on columns
      T* zr[16];
      for (int k = 0; k < 16; ++k) zr[k] = z + k * kstride;
      for (int64_t t = 0; t < tw; ++t) {
        const T a[4][2] = {{e0[t], o0[t]},
                           {e0[t] + e1[t], o0[t] + o1[t]},
                           {e0[t] - e1[t], o0[t] - o1[t]},
                           {-e1[t], -o1[t]}};
        for (int i = 0; i < 4; ++i) {
          zr[i * 4 + 0][t] = a[i][0];
          zr[i * 4 + 1][t] = a[i][0] + a[i][1];
          zr[i * 4 + 2][t] = a[i][0] - a[i][1];
          zr[i * 4 + 3][t] = -a[i][1];
        }
      }
    }
  }
}

template <typename T>
void transform_input(const T* x, int64_t planes, int64_t h, int64_t w, int64_t ph, int64_t pw,
                     const Tiling& tl, T* V, int64_t ld, int64_t t0, RowScratch<T>& sc) {
  if constexpr (std::is_same_v<T, float>) {
    switch (vector_transforms<T>()) {
      case Transforms::Avx512:
        return winograd_input_avx512(x, planes, h, w, ph, pw, tl.th, tl.tw, V, ld, t0);
      case Transforms::Avx2:
        return winograd_input_avx2(x, planes, h, w, ph, pw, tl.th, tl.tw, V, ld, t0);
      case Transforms::Portable:
        break;
    }
  }
  transform_input_portable(x, planes, h, w, ph, pw, tl, V, ld, t0, sc);
}

template <typename T>
void transform_output(const T* M, int64_t O, int64_t oh, int64_t ow, const Tiling& tl,
                      int64_t ld, int64_t t0, const T* bias, T* out, RowScratch<T>& sc) {
  if constexpr (std::is_same_v<T, float>) {
    switch (vector_transforms<T>()) {
      case Transforms::Avx512:
        return winograd_output_avx512(M, O, oh, ow, tl.th, tl.tw, ld, t0, bias, out);
      case Transforms::Avx2:
        return winograd_output_avx2(M, O, oh, ow, tl.th, tl.tw, ld, t0, bias, out);
      case Transforms::Portable:
        break;
    }
  }
  transform_output_portable(M, O, oh, ow, tl, ld, t0, bias, out, sc);
}

template <typename T>
void transform_grad(const T* gy, int64_t O, int64_t oh, int64_t ow, const Tiling& tl, T* Z,
                    int64_t ld, int64_t t0, RowScratch<T>& sc) {
  if constexpr (std::is_same_v<T, float>) {
    switch (vector_transforms<T>()) {
      case Transforms::Avx512:
        return winograd_grad_avx512(gy, O, oh, ow, tl.th, tl.tw, Z, ld, t0);
      case Transforms::Avx2:
        return winograd_grad_avx2(gy, O, oh, ow, tl.th, tl.tw, Z, ld, t0);
      case Transforms::Portable:
        break;
    }
  }
  transform_grad_portable(gy, O, oh, ow, tl, Z, ld, t0, sc);
}

// The input gradient of ns samples' forward input transforms (the transposed transform,
// Note [Winograd input gradient order]): gx [planes][h][w] from dV columns t0 + (tile).
template <typename T>
void transform_input_grad(const T* dV, int64_t planes, int64_t h, int64_t w, int64_t ph,
                          int64_t pw, const Tiling& tl, int64_t ld, int64_t t0, T* gx) {
  if constexpr (std::is_same_v<T, float>) {
    if (vector_transforms<T>() != Transforms::Portable)
      return winograd_input_grad_avx2(dV, planes, h, w, ph, pw, tl.th, tl.tw, ld, t0, gx);
  }
  winograd_input_grad_portable(dV, planes, h, w, ph, pw, tl.th, tl.tw, ld, t0, gx);
}

// ns samples of a Winograd convolution [C][h][w] -> [O][oh][ow] with transformed filters U:
// x points at the first sample's input; out(M, ld, s) writes sample s from the products M
// (columns s * tiles-per-sample of ld). buf holds 16 * (C + O) * ns * tiles-per-sample elements.
template <typename T, class Out>
void conv_samples(int64_t ns, int64_t C, int64_t h, int64_t w, int64_t O, int64_t oh,
                  int64_t ow, int64_t ph, int64_t pw, const T* x, const T* U, const Out& out,
                  T* buf, RowScratch<T>& sc) {
  const Tiling tl = tiling(oh, ow);
  const int64_t ld = ns * tl.per;
  T* V = buf;
  T* M = buf + 16 * C * ld;
  for (int64_t s = 0; s < ns; ++s)
    transform_input(x + s * C * h * w, C, h, w, ph, pw, tl, V, ld, s * tl.per, sc);
  for (int k = 0; k < 16; ++k)
    gemm<T>(false, false, O, ld, C, U + k * O * C, C, V + k * C * ld, ld, 0.0, M + k * O * ld,
            ld);
  for (int64_t s = 0; s < ns; ++s) out(M, ld, s);
}

// The dense output stage: sample s of [O][oh][ow] planes at y, plus bias.
template <typename T>
auto dense_out(int64_t O, int64_t oh, int64_t ow, const T* bias, T* y, RowScratch<T>& sc) {
  return [=, &sc](const T* M, int64_t ld, int64_t s) {
    transform_output(M, O, oh, ow, tiling(oh, ow), ld, s * tiling(oh, ow).per, bias,
                     y + s * O * oh * ow, sc);
  };
}

// A Winograd convolution of n samples, `step` at a time spread over the threads; out_at(n0,
// sc) is the output stage for the step starting at sample n0.
template <typename T, class OutAt>
void run_conv_to(int64_t n, int64_t C, int64_t h, int64_t w, int64_t O, int64_t oh, int64_t ow,
                 int64_t ph, int64_t pw, const T* x, const T* U, const OutAt& out_at,
                 int64_t step) {
  const Tiling tl = tiling(oh, ow);
  const int64_t chunks = (n + step - 1) / step;
  const int64_t maxld = std::min(n, step) * tl.per;
  for_items<T>(chunks, 16 * (C + O) * maxld, [&](int64_t ci, T* buf) {
    RowScratch<T> sc(tl.tw);
    const int64_t n0 = ci * step;
    conv_samples(std::min(step, n - n0), C, h, w, O, oh, ow, ph, pw, x + n0 * C * h * w, U,
                 out_at(n0, sc), buf, sc);
  });
}

template <typename T>
void run_conv(int64_t n, int64_t C, int64_t h, int64_t w, int64_t O, int64_t oh, int64_t ow,
              int64_t ph, int64_t pw, const T* x, const T* U, const T* bias, T* y,
              int64_t step) {
  run_conv_to(n, C, h, w, O, oh, ow, ph, pw, x, U,
              [&](int64_t n0, RowScratch<T>& sc) {
                return dense_out(O, oh, ow, bias, y + n0 * O * oh * ow, sc);
              },
              step);
}

// The backward of ns samples, from the output gradient's transformed blocks Z = A dY At
// (zfill(s, Z, ld, t0) writes sample s's at columns t0 + (tile)):
// with dU, dU (+)= Z V^T and with db, db[o] (+)= the samples' channel sums (beta 0: overwrite;
// V the input's transformed tiles); with gx, the
// input gradient: dV = U^T Z (Ut holds U^T, [16][C][O]) through the transposed input transform.
// img points at the first sample's input, gx at its input gradient.
template <typename T, class ZFill>
void backward_samples(const ConvGeom& g, int64_t ns, const T* img, const ZFill& zfill,
                      const T* Ut, T* gx, double beta, T* dU, T* db, T* buf,
                      RowScratch<T>& sc) {
  const int64_t C = g.ci, O = g.co;
  const Tiling tl = tiling(g.oh, g.ow);
  const int64_t ld = ns * tl.per;
  T* V = buf;
  T* Z = buf + 16 * C * ld;
  for (int64_t s = 0; s < ns; ++s) {
    if (dU)
      transform_input(img + s * C * g.h * g.w, C, g.h, g.w, g.ph, g.pw, tl, V, ld, s * tl.per,
                      sc);
    zfill(s, Z, ld, s * tl.per);
  }
  // A tile's Z[5] = (A dY At)[1][1] is the sum of its 2x2 block (+0 outside the map): the bias
  // gradient sums those, so fused and plain output gradients give its bits too.
  if (db)
    for (int64_t s = 0; s < ns; ++s)
      for (int64_t o = 0; o < O; ++o) {
        const T v = row_sum(Z + 5 * O * ld + o * ld + s * tl.per, tl.per);
        db[o] = beta == 0.0 && s == 0 ? v : db[o] + v;
      }
  if (dU)
    for (int k = 0; k < 16; ++k)
      gemm<T>(false, true, O, C, ld, Z + k * O * ld, ld, V + k * C * ld, ld, beta,
              dU + k * O * C, C);
  if (!gx) return;
  for (int k = 0; k < 16; ++k)  // dV overwrites V
    gemm<T>(false, false, C, ld, O, Ut + k * C * O, O, Z + k * O * ld, ld, 0.0, V + k * C * ld,
            ld);
  for (int64_t s = 0; s < ns; ++s)
    transform_input_grad(V, C, g.h, g.w, g.ph, g.pw, tl, ld, s * tl.per, gx + s * C * g.h * g.w);
}

// dw[o][c] = Gt dU[.][o][c] G.
template <typename T>
void filters_from_transformed(const T* dU, int64_t O, int64_t C, T* dw) {
  const int64_t plane = O * C;
  parallel_for(0, O, std::max<int64_t>(1, 256 / std::max<int64_t>(C, 1)), [&](int64_t o0,
                                                                              int64_t o1) {
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t c = 0; c < C; ++c) {
      T X[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) X[i][j] = dU[(i * 4 + j) * plane + o * C + c];
      T r[3][4];  // Gt X
      for (int j = 0; j < 4; ++j) {
        r[0][j] = X[0][j] + T(0.5) * (X[1][j] + X[2][j]);
        r[1][j] = T(0.5) * (X[1][j] - X[2][j]);
        r[2][j] = T(0.5) * (X[1][j] + X[2][j]) + X[3][j];
      }
      T* d = dw + (o * C + c) * 9;
      for (int i = 0; i < 3; ++i) {  // (Gt X) G
        d[i * 3 + 0] = r[i][0] + T(0.5) * (r[i][1] + r[i][2]);
        d[i * 3 + 1] = T(0.5) * (r[i][1] - r[i][2]);
        d[i * 3 + 2] = T(0.5) * (r[i][1] + r[i][2]) + r[i][3];
      }
    }
  });
}

// Adds the chunk partials in chunk order into p[0 .. len) (each element's order fixed, so the
// threads' split changes nothing).
template <typename T>
void sum_partials(T* p, int64_t chunks, int64_t len) {
  parallel_for(0, len, 4096, [&](int64_t b, int64_t e) {
    for (int64_t c = 1; c < chunks; ++c)
      for (int64_t i = b; i < e; ++i) p[i] += p[c * len + i];
  });
}

}  // namespace

bool winograd_applies(const ConvGeom& g) {
  return g.groups == 1 && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 &&
         g.dw == 1 && g.ph <= 2 && g.pw <= 2 && g.ci >= 16 && g.co >= 16 && g.oh >= 2 &&
         g.ow >= 2 && g.oh == g.h + 2 * g.ph - 2 && g.ow == g.w + 2 * g.pw - 2;
}

template <typename T>
void winograd_forward(const ConvGeom& g, const T* img, const T* wt, const T* bias, T* mat) {
  std::vector<T> U(size_t(16 * g.co * g.ci));
  transform_filters(wt, g.co, g.ci, g.ci * 9, 9, U.data());
  const int64_t step = samples_per_step(g.ci + g.co, tiling(g.oh, g.ow).per, sizeof(T));
  run_conv(g.n, g.ci, g.h, g.w, g.co, g.oh, g.ow, g.ph, g.pw, img, U.data(), bias, mat, step);
}

template <typename T>
void winograd_backward_data(const ConvGeom& g, const T* mat, const T* wt, T* img) {
  // conv2d's backward with the input gradient alone: the same bits as with the other two
  // (a sample's input gradient does not depend on the chunks, any multiple of 2 samples)
  constexpr int64_t kChunk = 8;
  winograd_backward<T>(g, nullptr, wt, mat, img, nullptr, nullptr, kChunk);
}

template <typename T>
void winograd_weight_grad(const ConvGeom& g, const T* img, const T* mat, T* dw, int64_t chunk) {
  winograd_backward<T>(g, img, nullptr, mat, nullptr, dw, nullptr, chunk);
}

namespace {

// A chunk's output gradient, dense [n][O][oh][ow] from sample c0 at gm: z() writes sample i's
// transformed blocks.
template <typename T>
struct DenseView {
  const T* gm;
  int64_t O, oh, ow;
  void z(int64_t i, T* Z, int64_t ld, int64_t t0, const Tiling& tl, RowScratch<T>& sc) const {
    transform_grad(gm + i * O * oh * ow, O, oh, ow, tl, Z, ld, t0, sc);
  }
};

// The output gradient as winograd_backward reads it: dense [n][O][oh][ow] at gmat; chunk(c0,
// c1, scratch) views sample c0's (no copy, no scratch).
template <typename T>
struct DenseGrad {
  const T* gmat;
  int64_t O, oh, ow;
  int64_t scratch_len(int64_t) const { return 0; }
  DenseView<T> chunk(int64_t c0, int64_t, T*) const {
    return {gmat + c0 * O * oh * ow, O, oh, ow};
  }
};

// The fused conv -> relu -> max pool's pooled output gradient for a chunk from sample c0: with
// `dense` (a chunk spread out), read from there; else straight from the pooled values and codes
// (AVX2 only: the AVX-512 gradient transform's zeros may have other signs).
struct PooledView {
  const float* dense;
  const float* gpool;
  const uint8_t* codes;
  int64_t O, oh, ow;
  void z(int64_t i, float* Z, int64_t ld, int64_t t0, const Tiling& tl,
         RowScratch<float>& sc) const {
    if (dense) return DenseView<float>{dense, O, oh, ow}.z(i, Z, ld, t0, tl, sc);
    const int64_t at = i * O * tl.per;
    winograd_grad_pooled_avx2(gpool + at, codes + at, O, tl.per, Z, ld, t0);
  }
};

struct PooledGrad {
  const float* gpool;
  const uint8_t* codes;
  int64_t O, oh, ow;
  bool direct;  // no spreading (PooledView)
  int64_t scratch_len(int64_t chunk) const { return direct ? 0 : chunk * O * oh * ow; }
  PooledView chunk(int64_t c0, int64_t c1, float* scratch) const {
    const int64_t at = c0 * O * (oh / 2) * (ow / 2);
    if (direct) return {nullptr, gpool + at, codes + at, O, oh, ow};
    spread_pooled_grad(gpool + at, codes + at, (c1 - c0) * O, oh, ow, scratch);
    return {scratch, gpool + at, codes + at, O, oh, ow};
  }
};

// conv2d's backward over fixed chunks of samples (see winograd_backward), the output gradient
// of each chunk from grad.chunk().
template <typename T, class Grad>
void backward_impl(const ConvGeom& g, const T* img, const T* wt, const Grad& grad,
                   const T* gmat_all, T* gimg, T* dw, T* db, int64_t chunk) {
  const int64_t C = g.ci, O = g.co, usize = 16 * O * C;
  if (g.n == 0) {
    if (dw) std::fill(dw, dw + O * C * 9, T(0));
    if (db) std::fill(db, db + O, T(0));
    return;
  }
  const Tiling to = tiling(g.oh, g.ow);  // every pass works on the output's tiles
  const int64_t step = samples_per_step(C + O, to.per, sizeof(T));
  RV_INTERNAL_ASSERT(chunk % step == 0, "winograd: chunk ", chunk, " not a multiple of ", step);
  const int64_t chunks = (g.n + chunk - 1) / chunk;
  const int64_t sub = std::min(g.n, step);
  const int64_t buf_len = 16 * (C + O) * sub * to.per;
  const int64_t L = g.oh * g.ow, HW = g.h * g.w;
  std::vector<T> Ut;
  if (gimg) {  // the input gradient: U^T Z through the transposed input transform
    Ut.resize(size_t(usize));
    transform_filters(wt, C, O, 9, C * 9, Ut.data());
    if (chunks < get_num_threads()) {  // too few chunks to share: by sample pairs instead
      RV_INTERNAL_ASSERT(gmat_all, "winograd: a dense output gradient is needed here");
      for_items<T>((g.n + step - 1) / step, buf_len, [&](int64_t si, T* buf) {
        RowScratch<T> so(to.tw);
        const int64_t n0 = si * step;
        const DenseView<T> v{gmat_all + n0 * O * L, O, g.oh, g.ow};
        backward_samples(g, std::min(step, g.n - n0), static_cast<const T*>(nullptr),
                         [&](int64_t s, T* Z, int64_t ld, int64_t t0) {
                           v.z(s, Z, ld, t0, to, so);
                         },
                         Ut.data(), gimg + n0 * C * HW, 0.0, static_cast<T*>(nullptr),
                         static_cast<T*>(nullptr), buf, so);
      });
      gimg = nullptr;
    }
  }
  if (!gimg && !dw && !db) return;
  // the chunk partials, each written whole by its chunk's first sample (no zeroing: 1 MB of
  // memset on one thread for the cnn's conv2)
  const std::unique_ptr<T[]> pw(dw ? new T[size_t(chunks * usize)] : nullptr);
  const std::unique_ptr<T[]> pb(db ? new T[size_t(chunks * O)] : nullptr);
  for_items<T>(chunks, buf_len + grad.scratch_len(chunk), [&](int64_t ci, T* buf) {
    const int64_t c0 = ci * chunk, c1 = std::min(g.n, c0 + chunk);
    const auto view = grad.chunk(c0, c1, buf + buf_len);  // samples c0 .. c1's output gradient
    RowScratch<T> so(to.tw);
    for (int64_t n0 = c0; n0 < c1; n0 += step) {
      const int64_t ns = std::min(step, c1 - n0);
      const auto zfill = [&](int64_t s, T* Z, int64_t ld, int64_t t0) {
        view.z(n0 - c0 + s, Z, ld, t0, to, so);
      };
      backward_samples(g, ns, dw ? img + n0 * C * HW : nullptr, zfill, Ut.data(),
                       gimg ? gimg + n0 * C * HW : nullptr, n0 == c0 ? 0.0 : 1.0,
                       dw ? pw.get() + ci * usize : nullptr, db ? pb.get() + ci * O : nullptr,
                       buf, so);
    }
  });
  if (dw) {
    sum_partials(pw.get(), chunks, usize);
    filters_from_transformed(pw.get(), O, C, dw);
  }
  if (db) {
    sum_partials(pb.get(), chunks, O);
    std::copy(pb.get(), pb.get() + O, db);
  }
}

}  // namespace

template <typename T>
void winograd_backward(const ConvGeom& g, const T* img, const T* wt, const T* gmat, T* gimg,
                       T* dw, T* db, int64_t chunk) {
  backward_impl(g, img, wt, DenseGrad<T>{gmat, g.co, g.oh, g.ow}, gmat, gimg, dw, db, chunk);
}

bool winograd_relu_pool_usable() {
  return vector_transforms<float>() != Transforms::Portable;
}

void winograd_relu_pool_forward(const ConvGeom& g, const float* img, const float* wt,
                                const float* bias, float* pooled, uint8_t* codes) {
  std::vector<float> U(size_t(16 * g.co * g.ci));
  transform_filters(wt, g.co, g.ci, g.ci * 9, 9, U.data());
  const Tiling tl = tiling(g.oh, g.ow);
  const int64_t step = samples_per_step(g.ci + g.co, tl.per, sizeof(float));
  const int64_t O = g.co, plane = O * tl.per;  // a pooled sample: one element per tile
  run_conv_to(g.n, g.ci, g.h, g.w, O, g.oh, g.ow, g.ph, g.pw, img, U.data(),
              [&](int64_t n0, RowScratch<float>&) {
                return [=, &tl](const float* M, int64_t ld, int64_t s) {
                  output_relu_pool(M, O, tl.per, ld, s * tl.per, bias,
                                   pooled + (n0 + s) * plane, codes + (n0 + s) * plane);
                };
              },
              step);
}

void winograd_relu_pool_backward(const ConvGeom& g, const float* img, const float* wt,
                                 const float* gpool, const uint8_t* codes, float* gimg,
                                 float* dw, float* db, int64_t chunk) {
  const int64_t chunks = (g.n + chunk - 1) / chunk;
  if (gimg && chunks < get_num_threads()) {  // the input gradient runs over the whole batch
    std::vector<float> dense(size_t(g.n * g.co * g.oh * g.ow));
    spread_pooled_grad(gpool, codes, g.n * g.co, g.oh, g.ow, dense.data());
    return winograd_backward<float>(g, img, wt, dense.data(), gimg, dw, db, chunk);
  }
  const bool direct = vector_transforms<float>() == Transforms::Avx2;
  backward_impl(g, img, wt, PooledGrad{gpool, codes, g.co, g.oh, g.ow, direct},
                static_cast<const float*>(nullptr), gimg, dw, db, chunk);
}

#define RV_WINOGRAD_INSTANTIATE(T)                                                          \
  template void winograd_forward<T>(const ConvGeom&, const T*, const T*, const T*, T*);     \
  template void winograd_backward_data<T>(const ConvGeom&, const T*, const T*, T*);         \
  template void winograd_weight_grad<T>(const ConvGeom&, const T*, const T*, T*, int64_t);   \
  template void winograd_backward<T>(const ConvGeom&, const T*, const T*, const T*, T*, T*, T*, \
                                     int64_t);
RV_WINOGRAD_INSTANTIATE(float)
RV_WINOGRAD_INSTANTIATE(double)
#undef RV_WINOGRAD_INSTANTIATE

}  // namespace ranvier::cpu
