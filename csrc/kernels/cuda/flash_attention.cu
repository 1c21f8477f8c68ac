// Flash-style attention kernels for float16 / bfloat16 (see flash_attention.cuh), on the tensor
// cores through mma.sync m16n8k16 (16-bit operands, float32 accumulation).
//
// Layout: q [B, L, D], k and v [B, S, D], out [B, L, D], contiguous; lse [B, L] float32.
// A block has 4 warps; each warp owns 16 rows (queries, or keys in the dK/dV kernel) and walks
// tiles of 64 of the other side, staged row-major in shared memory; ldmatrix loads the
// fragments (.trans where a tile is the right operand as it is). An m16n8k16 accumulator tile
// (two rows per thread: g = lane / 4 and g + 8, two adjacent columns 2 (lane % 4) + {0, 1})
// has the layout of the A operand of the next product once packed to 16 bits, so scores and
// probabilities stay in registers (the standard flash-attention arrangement).
//
// Forward (one block per 64 queries): online softmax in base 2 (scores times scale log2 e),
// O rescaled when the row maximum grows, divided by the row sum at the end; lse is natural.
// Backward, deterministic (no atomics), with D_i = dout_i . out_i first:
//   dK/dV kernel (one block per 64 keys, queries in tiles): P^T = exp(scale K Q^T - lse),
//     dV += P^T dO, dP^T = V dO^T, dS^T = P^T (dP^T - D), dK += scale dS^T Q;
//   dQ kernel (one block per 64 queries, keys in tiles): P and dS recomputed the same way,
//     dQ += scale dS K.
// Causal attention is top-left aligned (key j <= query i), like the CPU kernel; tiles wholly
// above the diagonal are skipped. P and dS are rounded to 16 bits for their products, as in
// FlashAttention; sums and the softmax statistics stay in float32.
#include <cstdint>

#include "cuda/context.h"
#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "kernels/cuda/flash_attention.cuh"

namespace ranvier::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kTile = 64;  // rows per block (16 per warp) and the width of the other side's tiles
constexpr int kPad = 8;    // row padding of shared tiles (conflict-free fragment loads)
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

template <typename T16>
__device__ __forceinline__ void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T16, DBf16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Two floats as a pair of 16-bit values in one register (lo in the low half).
template <typename T16>
__device__ __forceinline__ uint32_t pack(float lo, float hi) {
  return uint32_t(float_to_reduced<T16>(lo).x) | (uint32_t(float_to_reduced<T16>(hi).x) << 16);
}
template <typename T16>
__device__ __forceinline__ float unpack(uint16_t v) {
  return reduced_to_float(T16{v});
}

__device__ __forceinline__ uint32_t ld32(const uint16_t* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

// The A operand (16 x 16) from accumulator tiles 2t and 2t + 1 (16 x 8 each).
template <typename T16>
__device__ __forceinline__ void acc_to_a(const float (*acc)[4], int t, uint32_t a[4]) {
  a[0] = pack<T16>(acc[2 * t][0], acc[2 * t][1]);
  a[1] = pack<T16>(acc[2 * t][2], acc[2 * t][3]);
  a[2] = pack<T16>(acc[2 * t + 1][0], acc[2 * t + 1][1]);
  a[3] = pack<T16>(acc[2 * t + 1][2], acc[2 * t + 1][3]);
}

// The A fragments (16 rows x D) of rows row0.. of a [n, D] global matrix; rows >= n are zero.
template <int D>
__device__ __forceinline__ void load_a_rows(const uint16_t* m, int64_t row0, int64_t n,
                                            uint32_t a[D / 16][4]) {
  const int lane = threadIdx.x % 32, g = lane / 4, c = 2 * (lane % 4);
  const int64_t r0 = row0 + g, r1 = row0 + g + 8;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    a[kk][0] = r0 < n ? ld32(m + r0 * D + kk * 16 + c) : 0u;
    a[kk][1] = r1 < n ? ld32(m + r1 * D + kk * 16 + c) : 0u;
    a[kk][2] = r0 < n ? ld32(m + r0 * D + kk * 16 + 8 + c) : 0u;
    a[kk][3] = r1 < n ? ld32(m + r1 * D + kk * 16 + 8 + c) : 0u;
  }
}

// Stages rows row0..row0+63 of a [n, D] global matrix into a shared [64][D+pad] tile; rows
// >= n are zero.
template <int D>
__device__ __forceinline__ void stage(const uint16_t* m, int64_t row0, int64_t n,
                                      uint16_t (*rows)[D + kPad]) {
  constexpr int kChunks = kTile * D / 8;  // 16-byte pieces
  for (int c = threadIdx.x; c < kChunks; c += kWarps * 32) {
    const int r = c / (D / 8), d0 = (c % (D / 8)) * 8;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (row0 + r < n) v = *reinterpret_cast<const uint4*>(m + (row0 + r) * D + d0);
    *reinterpret_cast<uint4*>(&rows[r][d0]) = v;
  }
}

// ldmatrix: four 8 x 8 16-bit matrices from shared memory, lane l giving the address of row
// l % 8 of matrix l / 8; register m gets matrix m's element (l / 4, 2 (l % 4) + {0, 1}), or
// with .trans the transposed matrix's.
__device__ __forceinline__ void ldsm4(uint32_t r[4], const uint16_t* p) {
  const uint32_t a = uint32_t(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}
__device__ __forceinline__ void ldsm4_trans(uint32_t r[4], const uint16_t* p) {
  const uint32_t a = uint32_t(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

// acc[t] (16 x 8 tiles over 64 columns) += A (16 x D) times B, where B's column j is row j of a
// shared [64][D+pad] tile (B[k][j] = tile[j][k]): one ldmatrix gives the B fragments of two
// column tiles.
template <typename T16, int D>
__device__ __forceinline__ void mma_rows(float (*acc)[4], const uint32_t a[D / 16][4],
                                         const uint16_t (*tile)[D + kPad]) {
  const int lane = threadIdx.x % 32, m = lane / 8, r = lane % 8;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
    for (int t = 0; t < kTile / 8; t += 2) {
      uint32_t b[4];
      ldsm4(b, &tile[(t + m / 2) * 8 + r][kk * 16 + (m % 2) * 8]);
      mma<T16>(acc[t], a[kk], b[0], b[1]);
      mma<T16>(acc[t + 1], a[kk], b[2], b[3]);
    }
}

// acc[t] (16 x 8 tiles over D columns) += P (16 x 64, accumulator tiles p) times B, B being the
// shared [64][D+pad] tile itself (B[k][j] = tile[k][j], fragments through ldmatrix.trans).
template <typename T16, int D>
__device__ __forceinline__ void mma_cols(float (*acc)[4], const float (*p)[4],
                                         const uint16_t (*tile)[D + kPad]) {
  const int lane = threadIdx.x % 32, m = lane / 8, r = lane % 8;
#pragma unroll
  for (int kk = 0; kk < kTile / 16; ++kk) {
    uint32_t a[4];
    acc_to_a<T16>(p, kk, a);
#pragma unroll
    for (int t = 0; t < D / 8; t += 2) {
      uint32_t b[4];
      ldsm4_trans(b, &tile[kk * 16 + (m % 2) * 8 + r][(t + m / 2) * 8]);
      mma<T16>(acc[t], a, b[0], b[1]);
      mma<T16>(acc[t + 1], a, b[2], b[3]);
    }
  }
}

template <int N>
__device__ __forceinline__ void zero(float (*acc)[4]) {
#pragma unroll
  for (int t = 0; t < N; ++t) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = 0.f;
}

// Stores a warp's 16 x D float accumulator rows row0.. (rows >= n skipped) as 16-bit values.
template <typename T16, int D>
__device__ __forceinline__ void store_rows(uint16_t* m, int64_t row0, int64_t n,
                                           const float (*acc)[4], float mul0, float mul1) {
  const int lane = threadIdx.x % 32, g = lane / 4, c = 2 * (lane % 4);
#pragma unroll
  for (int t = 0; t < D / 8; ++t) {
    if (row0 + g < n)
      *reinterpret_cast<uint32_t*>(m + (row0 + g) * D + t * 8 + c) =
          pack<T16>(acc[t][0] * mul0, acc[t][1] * mul0);
    if (row0 + g + 8 < n)
      *reinterpret_cast<uint32_t*>(m + (row0 + g + 8) * D + t * 8 + c) =
          pack<T16>(acc[t][2] * mul1, acc[t][3] * mul1);
  }
}

struct FlashArgs {
  const uint16_t* q;
  const uint16_t* k;
  const uint16_t* v;
  const uint16_t* out;
  const uint16_t* dout;
  uint16_t* o;  // forward output
  float* lse;
  const float* dvec;  // backward: D_i
  uint16_t* gq;
  uint16_t* gk;
  uint16_t* gv;
  int64_t l, s;
  float scale;       // softmax scale
  float scale_log2;  // scale * log2(e)
  bool causal;
};

// Key tiles a query tile qt attends: [0, end).
__device__ __forceinline__ int key_tiles(const FlashArgs& p, int qt) {
  const int all = int((p.s + kTile - 1) / kTile);
  return p.causal ? min(all, qt + 1) : all;
}

// Whether key j is visible from query i (both in range).
__device__ __forceinline__ bool visible(const FlashArgs& p, int64_t i, int64_t j) {
  return i < p.l && j < p.s && (!p.causal || j <= i);
}

template <typename T16, int D>
__global__ void __launch_bounds__(kWarps * 32) flash_forward_dev(FlashArgs p) {
  __shared__ __align__(16) uint16_t ks[kTile][D + kPad];
  __shared__ __align__(16) uint16_t vs[kTile][D + kPad];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = 2 * (lane % 4);
  const int qt = int(gridDim.x) - 1 - int(blockIdx.x);  // the longest causal tiles first
  const int64_t b = blockIdx.y, row0 = int64_t(qt) * kTile + warp * 16;
  const uint16_t* q = p.q + b * p.l * D;
  const uint16_t* k = p.k + b * p.s * D;
  const uint16_t* v = p.v + b * p.s * D;
  uint32_t qa[D / 16][4];
  load_a_rows<D>(q, row0, p.l, qa);
  float o[D / 8][4];
  zero<D / 8>(o);
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  const int tiles = key_tiles(p, qt);
  for (int kt = 0; kt < tiles; ++kt) {
    const int64_t key0 = int64_t(kt) * kTile;
    __syncthreads();  // the previous tile is no longer read
    stage<D>(k, key0, p.s, ks);
    stage<D>(v, key0, p.s, vs);
    __syncthreads();
    float sc[kTile / 8][4];
    zero<kTile / 8>(sc);
    mma_rows<T16, D>(sc, qa, ks);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int t = 0; t < kTile / 8; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t i = row0 + g + (e >= 2 ? 8 : 0), j = key0 + t * 8 + c + (e & 1);
        const float s = visible(p, i, j) ? sc[t][e] * p.scale_log2 : -INFINITY;
        sc[t][e] = s;
        mx[e / 2] = fmaxf(mx[e / 2], s);
      }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
    }
    float base[2], alpha[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float mn = fmaxf(m[h], mx[h]);
      base[h] = mn == -INFINITY ? 0.f : mn;
      alpha[h] = exp2f(m[h] - base[h]);  // 0 while nothing was seen (m = -inf)
      m[h] = mn;
      l[h] *= alpha[h];
    }
#pragma unroll
    for (int t = 0; t < kTile / 8; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float pe = exp2f(sc[t][e] - base[e / 2]);
        sc[t][e] = pe;
        l[e / 2] += pe;
      }
#pragma unroll
    for (int t = 0; t < D / 8; ++t) {
      o[t][0] *= alpha[0];
      o[t][1] *= alpha[0];
      o[t][2] *= alpha[1];
      o[t][3] *= alpha[1];
    }
    mma_cols<T16, D>(o, sc, vs);
  }
  float inv[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
    inv[h] = l[h] > 0.f ? 1.f / l[h] : NAN;  // no visible key: NaN, like the CPU
  }
  store_rows<T16, D>(p.o + b * p.l * D, row0, p.l, o, inv[0], inv[1]);
  if (lane % 4 == 0) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t i = row0 + g + 8 * h;
      if (i < p.l) p.lse[b * p.l + i] = l[h] > 0.f ? (m[h] + log2f(l[h])) * kLn2 : -INFINITY;
    }
  }
}

// D_i = dout_i . out_i in float32, one warp per row.
template <typename T16, int D>
__global__ void flash_dvec_dev(FlashArgs p, int64_t rows, float* dvec) {
  const int64_t r = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  float acc = 0.f;
  for (int d = lane; d < D; d += 32)
    acc += unpack<T16>(p.dout[r * D + d]) * unpack<T16>(p.out[r * D + d]);
  for (int w = 16; w > 0; w /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, w);
  if (lane == 0) dvec[r] = acc;
}

template <typename T16, int D>
__global__ void __launch_bounds__(kWarps * 32) flash_dkdv_dev(FlashArgs p) {
  __shared__ __align__(16) uint16_t qs[kTile][D + kPad];
  __shared__ __align__(16) uint16_t ds[kTile][D + kPad];
  __shared__ float lse_s[kTile], dv_s[kTile];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = 2 * (lane % 4);
  const int kt = int(blockIdx.x);
  const int64_t b = blockIdx.y, key0 = int64_t(kt) * kTile + warp * 16;
  const uint16_t* q = p.q + b * p.l * D;
  const uint16_t* dout = p.dout + b * p.l * D;
  uint32_t ka[D / 16][4], va[D / 16][4];
  load_a_rows<D>(p.k + b * p.s * D, key0, p.s, ka);
  load_a_rows<D>(p.v + b * p.s * D, key0, p.s, va);
  float dk[D / 8][4], dv[D / 8][4];
  zero<D / 8>(dk);
  zero<D / 8>(dv);
  const int qtiles = int((p.l + kTile - 1) / kTile);
  for (int qt = p.causal ? kt : 0; qt < qtiles; ++qt) {
    const int64_t q0 = int64_t(qt) * kTile;
    __syncthreads();
    stage<D>(q, q0, p.l, qs);
    stage<D>(dout, q0, p.l, ds);
    for (int r = threadIdx.x; r < kTile; r += kWarps * 32) {
      const bool in = q0 + r < p.l;
      lse_s[r] = in ? p.lse[b * p.l + q0 + r] * kLog2e : INFINITY;
      dv_s[r] = in ? p.dvec[b * p.l + q0 + r] : 0.f;
    }
    __syncthreads();
    float pt[kTile / 8][4], dpt[kTile / 8][4];
    zero<kTile / 8>(pt);
    zero<kTile / 8>(dpt);
    mma_rows<T16, D>(pt, ka, qs);   // K Q^T
    mma_rows<T16, D>(dpt, va, ds);  // V dO^T
#pragma unroll
    for (int t = 0; t < kTile / 8; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t j = key0 + g + (e >= 2 ? 8 : 0);
        const int col = t * 8 + c + (e & 1);
        const float pe =
            visible(p, q0 + col, j) ? exp2f(pt[t][e] * p.scale_log2 - lse_s[col]) : 0.f;
        pt[t][e] = pe;
        dpt[t][e] = pe * (dpt[t][e] - dv_s[col]);
      }
    mma_cols<T16, D>(dv, pt, ds);   // P^T dO
    mma_cols<T16, D>(dk, dpt, qs);  // dS^T Q
  }
  if (p.gv) store_rows<T16, D>(p.gv + b * p.s * D, key0, p.s, dv, 1.f, 1.f);
  if (p.gk) store_rows<T16, D>(p.gk + b * p.s * D, key0, p.s, dk, p.scale, p.scale);
}

template <typename T16, int D>
__global__ void __launch_bounds__(kWarps * 32) flash_dq_dev(FlashArgs p) {
  __shared__ __align__(16) uint16_t ks[kTile][D + kPad];
  __shared__ __align__(16) uint16_t vs[kTile][D + kPad];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = 2 * (lane % 4);
  const int qt = int(gridDim.x) - 1 - int(blockIdx.x);
  const int64_t b = blockIdx.y, row0 = int64_t(qt) * kTile + warp * 16;
  const uint16_t* k = p.k + b * p.s * D;
  const uint16_t* v = p.v + b * p.s * D;
  uint32_t qa[D / 16][4], da[D / 16][4];
  load_a_rows<D>(p.q + b * p.l * D, row0, p.l, qa);
  load_a_rows<D>(p.dout + b * p.l * D, row0, p.l, da);
  float lse[2], dvec[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t i = row0 + g + 8 * h;
    lse[h] = i < p.l ? p.lse[b * p.l + i] * kLog2e : INFINITY;
    dvec[h] = i < p.l ? p.dvec[b * p.l + i] : 0.f;
  }
  float dq[D / 8][4];
  zero<D / 8>(dq);
  const int tiles = key_tiles(p, qt);
  for (int kt = 0; kt < tiles; ++kt) {
    const int64_t key0 = int64_t(kt) * kTile;
    __syncthreads();
    stage<D>(k, key0, p.s, ks);
    stage<D>(v, key0, p.s, vs);
    __syncthreads();
    float sc[kTile / 8][4], dp[kTile / 8][4];
    zero<kTile / 8>(sc);
    zero<kTile / 8>(dp);
    mma_rows<T16, D>(sc, qa, ks);  // Q K^T
    mma_rows<T16, D>(dp, da, vs);  // dO V^T
#pragma unroll
    for (int t = 0; t < kTile / 8; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t i = row0 + g + (e >= 2 ? 8 : 0), j = key0 + t * 8 + c + (e & 1);
        const float pe = visible(p, i, j) ? exp2f(sc[t][e] * p.scale_log2 - lse[e / 2]) : 0.f;
        dp[t][e] = pe * (dp[t][e] - dvec[e / 2]);
      }
    mma_cols<T16, D>(dq, dp, ks);  // dS K
  }
  if (p.gq) store_rows<T16, D>(p.gq + b * p.l * D, row0, p.l, dq, p.scale, p.scale);
}

FlashArgs args_of(const AttnSpec& s) {
  FlashArgs a{};
  a.q = static_cast<const uint16_t*>(s.q);
  a.k = static_cast<const uint16_t*>(s.k);
  a.v = static_cast<const uint16_t*>(s.v);
  a.out = static_cast<const uint16_t*>(s.out);
  a.o = static_cast<uint16_t*>(s.out);
  a.dout = static_cast<const uint16_t*>(s.grad);
  a.lse = static_cast<float*>(s.lse);
  a.gq = static_cast<uint16_t*>(s.gq);
  a.gk = static_cast<uint16_t*>(s.gk);
  a.gv = static_cast<uint16_t*>(s.gv);
  a.l = s.l;
  a.s = s.s;
  a.scale = float(s.scale);
  a.scale_log2 = float(s.scale) * kLog2e;
  a.causal = s.causal;
  return a;
}

template <typename T16, int D>
void forward_launch(const AttnSpec& s) {
  const dim3 grid(unsigned((s.l + kTile - 1) / kTile), unsigned(s.b));
  flash_forward_dev<T16, D><<<grid, kWarps * 32, 0, current_stream()>>>(args_of(s));
  RV_CUDA_CHECK(cudaGetLastError());
}

template <typename T16, int D>
void backward_launch(const AttnSpec& s) {
  const int64_t rows = s.b * s.l;
  ScratchBuffer dbuf(size_t(rows) * sizeof(float));
  FlashArgs a = args_of(s);
  a.dvec = dbuf.as<float>();
  cudaStream_t st = current_stream();
  flash_dvec_dev<T16, D><<<unsigned((rows + kWarps - 1) / kWarps), kWarps * 32, 0, st>>>(
      a, rows, dbuf.as<float>());
  RV_CUDA_CHECK(cudaGetLastError());
  if (s.gk || s.gv) {
    flash_dkdv_dev<T16, D>
        <<<dim3(unsigned((s.s + kTile - 1) / kTile), unsigned(s.b)), kWarps * 32, 0, st>>>(a);
    RV_CUDA_CHECK(cudaGetLastError());
  }
  if (s.gq) {
    flash_dq_dev<T16, D>
        <<<dim3(unsigned((s.l + kTile - 1) / kTile), unsigned(s.b)), kWarps * 32, 0, st>>>(a);
    RV_CUDA_CHECK(cudaGetLastError());
  }
}

using Launch = void (*)(const AttnSpec&);

// The launcher of the spec's dtype and head dim (flash_attention_applies holds).
template <template <typename, int> class Pick>
Launch pick(const AttnSpec& s) {
  const bool bf = s.dtype == DType::BFloat16;
  switch (s.e) {
    case 16: return bf ? Pick<DBf16, 16>::fn : Pick<DHalf, 16>::fn;
    case 32: return bf ? Pick<DBf16, 32>::fn : Pick<DHalf, 32>::fn;
    default: return bf ? Pick<DBf16, 64>::fn : Pick<DHalf, 64>::fn;
  }
}
template <typename T16, int D>
struct Forward {
  static constexpr Launch fn = &forward_launch<T16, D>;
};
template <typename T16, int D>
struct Backward {
  static constexpr Launch fn = &backward_launch<T16, D>;
};

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool flash_attention_applies(const AttnSpec& s) {
  return is_reduced_float(s.dtype) && s.mask == nullptr && s.e == s.ev &&
         (s.e == 16 || s.e == 32 || s.e == 64) && s.s > 0 && s.l > 0 && s.b > 0 &&
         s.b <= 65535 && aligned16(s.q) && aligned16(s.k) && aligned16(s.v) &&
         aligned16(s.out) && aligned16(s.grad) && aligned16(s.gq) && aligned16(s.gk) &&
         aligned16(s.gv);
}

void flash_attention_forward(const AttnSpec& s) { pick<Forward>(s)(s); }

void flash_attention_backward(const AttnSpec& s) { pick<Backward>(s)(s); }

}  // namespace ranvier::cuda
