// CPU GEMM kernel for the matmul family (GemmSpec, ops/matmul.h). float32/float64 go to
// OpenBLAS in fixed blocks (gemm_fixed_blocks_blas, Note [Thread-invariant BLAS]): an operand
// whose column stride is 1 is passed as is, one whose row stride is 1 is passed with the
// transpose flag (so transposed views cost no copy), anything else is packed first. Float32
// products go to the panel GEMM where it applies, those of 1-4 rows against row-major weights
// to gemv.cpp. Integer dtypes use a plain row kernel. Batches: small matrices are spread over
// our OpenMP threads, each product on one thread; large ones run one at a time, each on all
// threads.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/gemv.h"
#include "ops/matmul.h"

namespace ranvier::cpu {

namespace {

// Below this many multiply-adds per matrix a batch is better spread over our threads than each
// product split.
constexpr int64_t kSmallGemm = 64 * 64 * 64;

struct Layout {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};

// How BLAS can read a rows x cols matrix with element strides (rs, cs).
Layout blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  const int64_t r1 = std::max<int64_t>(rows, 1), c1 = std::max<int64_t>(cols, 1);
  if ((cols == 1 || cs == 1) && (rows == 1 || rs >= c1)) return {true, false, rows == 1 ? c1 : rs};
  if ((rows == 1 || rs == 1) && (cols == 1 || cs >= r1)) return {true, true, cols == 1 ? r1 : cs};
  return {};
}

template <typename T>
const T* pack(const T* src, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
              std::vector<T>& buf) {
  buf.resize(size_t(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) buf[size_t(i * cols + j)] = src[i * rs + j * cs];
  return buf.data();
}

template <typename T>
void scale_c(T* c, int64_t count, double beta) {
  if (beta == 0.0) {
    std::fill(c, c + count, T(0));
  } else if (beta != 1.0) {
    for (int64_t i = 0; i < count; ++i) c[i] = T(double(c[i]) * beta);
  }
}

struct BatchOffsets {
  int64_t a = 0, b = 0, c = 0;
};
BatchOffsets batch_offsets(const GemmSpec& s, int64_t bi) {
  BatchOffsets o;
  for (int d = s.nbatch - 1; d >= 0; --d) {
    const int64_t x = bi % s.batch_sizes[d];
    bi /= s.batch_sizes[d];
    o.a += x * s.a_bs[d];
    o.b += x * s.b_bs[d];
    o.c += x * s.c_bs[d];
  }
  return o;
}

// One float/double GEMM.
template <typename T>
void blas_one(const GemmSpec& s, const T* a, const T* b, T* c, std::vector<T>& abuf,
              std::vector<T>& bbuf) {
  if (s.k == 0) return scale_c(c, s.m * s.n, s.beta);
  Layout la = blas_layout(s.m, s.k, s.a_rs, s.a_cs);
  if (!la.ok) {
    a = pack(a, s.m, s.k, s.a_rs, s.a_cs, abuf);
    la = {true, false, s.k};
  }
  Layout lb = blas_layout(s.k, s.n, s.b_rs, s.b_cs);
  if (!lb.ok) {
    b = pack(b, s.k, s.n, s.b_rs, s.b_cs, bbuf);
    lb = {true, false, s.n};
  }
  gemm_fixed_blocks_blas(std::is_same_v<T, double>, la.trans, lb.trans, s.m, s.n, s.k, s.alpha,
                         a, la.ld, b, lb.ld, s.beta, c, s.n);
}

// Writes GemmSpec::c_row into every row of every output matrix (C is the fresh contiguous
// output whenever c_row is set).
template <typename T>
void fill_rows(const GemmSpec& s, T* c) {
  const T* row = reinterpret_cast<const T*>(s.c_row);
  const int64_t rows = s.batch_numel * s.m;
  parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(s.n, 1)),
               [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < s.n; ++j) c[r * s.n + j] = row[j * s.c_row_stride];
  });
}

template <typename T>
void run_blas(const GemmSpec& s) {
  const T* a = reinterpret_cast<const T*>(s.a);
  const T* b = reinterpret_cast<const T*>(s.b);
  T* c = reinterpret_cast<T*>(s.c);
  if constexpr (std::is_same_v<T, float>) {
    // A few rows against weights read row by row (Linear at batch <= 4): gemv.h.
    if (s.batch_numel == 1 && s.m >= 1 && s.m <= kGemvMaxRows && s.k >= 16 && s.n >= 1 &&
        s.a_cs == 1 && s.b_rs == 1) {
      return gemv_rows_f32(s.m, s.n, s.k, float(s.alpha), a, s.a_rs, b, s.b_cs, float(s.beta),
                           reinterpret_cast<const float*>(s.c_row), s.c_row_stride, c, s.n);
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    if (gemm_panels_f32(s)) return;  // Note [Panel GEMM]
  }
  if (s.c_row != nullptr) fill_rows(s, c);
  const int64_t work = s.m * s.n * std::max<int64_t>(s.k, 1);
  if (s.batch_numel > 1 && work < kSmallGemm && get_num_threads() > 1 && !in_parallel_region()) {
    const int64_t grain = std::max<int64_t>(1, kGrainSize / work);
    parallel_for(0, s.batch_numel, grain, [&](int64_t b0, int64_t b1) {
      std::vector<T> abuf, bbuf;
      for (int64_t bi = b0; bi < b1; ++bi) {
        BatchOffsets o = batch_offsets(s, bi);
        blas_one(s, a + o.a, b + o.b, c + o.c, abuf, bbuf);
      }
    });
    return;
  }
  std::vector<T> abuf, bbuf;
  for (int64_t bi = 0; bi < s.batch_numel; ++bi) {
    BatchOffsets o = batch_offsets(s, bi);
    blas_one(s, a + o.a, b + o.b, c + o.c, abuf, bbuf);
  }
}

// Integer GEMM (wrapping arithmetic like PyTorch's integer matmul), rows in parallel.
template <typename T>
void run_integer(const GemmSpec& s) {
  if (s.c_row != nullptr) fill_rows(s, reinterpret_cast<T*>(s.c));
  using U = std::conditional_t<std::is_same_v<T, int64_t>, uint64_t, uint32_t>;  // wraps
  const T* a = reinterpret_cast<const T*>(s.a);
  const T* b = reinterpret_cast<const T*>(s.b);
  T* c = reinterpret_cast<T*>(s.c);
  const U alpha = U(int64_t(s.alpha)), beta = U(int64_t(s.beta));
  const int64_t rows = s.batch_numel * s.m;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, s.n * s.k));
  parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    std::vector<U> acc(size_t(s.n));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t bi = r / s.m, i = r % s.m;
      BatchOffsets o = batch_offsets(s, bi);
      const T* arow = a + o.a + i * s.a_rs;
      T* crow = c + o.c + i * s.n;
      std::fill(acc.begin(), acc.end(), U(0));
      for (int64_t p = 0; p < s.k; ++p) {
        const U av = U(arow[p * s.a_cs]);
        const T* brow = b + o.b + p * s.b_rs;
        for (int64_t j = 0; j < s.n; ++j) acc[size_t(j)] += av * U(brow[j * s.b_cs]);
      }
      for (int64_t j = 0; j < s.n; ++j) {
        U v = alpha * acc[size_t(j)];
        if (s.beta != 0.0) v += beta * U(crow[j]);
        crow[j] = T(v);
      }
    }
  });
}

void gemm_cpu(const GemmSpec& s) {
  switch (s.dtype) {
    case DType::Float32: return run_blas<float>(s);
    case DType::Float64: return run_blas<double>(s);
    case DType::Int64: return run_integer<int64_t>(s);
    case DType::Int32: return run_integer<int32_t>(s);
    case DType::UInt8: return run_integer<uint8_t>(s);
    default: throw_unsupported_dtype("matmul", s.dtype);
  }
}

}  // namespace

void register_matmul_cpu() { gemm_kernel.set(DeviceType::CPU, &gemm_cpu); }

}  // namespace ranvier::cpu
