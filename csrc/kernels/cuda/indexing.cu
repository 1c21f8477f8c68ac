// CUDA kernels of the indexing family (ops/indexing.h), every dtype: gather, scatter (assign or
// accumulate, from a tensor or a value), advanced-index gather and put (accumulate or not),
// masked_fill, nonzero_count and nonzero. Copies move raw element bits; accumulation follows
// the CPU's per-dtype rule.
// Deterministic (Note [Deterministic scatter and index_put] in indexing.cuh): the writing
// kernels give each thread a set of targets no other thread touches and walk the updates in
// the CPU's order (index_put with few targets per index row and many rows sorts the rows by
// offset first, CUB's stable radix sort); no float atomics. nonzero_count adds integers
// (order-free). nonzero marks nonzero elements, turns the marks into output rows with CUB's exclusive scan, and writes
// each element's coordinates at its row: output in row-major order like the CPU.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <cstring>

#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/indexing.cuh"
#include "kernels/cuda/scratch.cuh"

namespace ranvier::cuda {

namespace {

using namespace indexing_math;

int64_t numel_of(const StridedView& v) {
  int64_t n = 1;
  for (int d = 0; d < v.ndim; ++d) n *= v.sizes[d];
  return n;
}

// Element types by size, for kernels that only move bits.
template <typename F>
void dispatch_bits(DType t, F&& f) {
  switch (element_size(t)) {
    case 1: return f(TypeTag<uint8_t>{});
    case 2: return f(TypeTag<uint16_t>{});
    case 4: return f(TypeTag<uint32_t>{});
    default: return f(TypeTag<uint64_t>{});
  }
}

// The Scalar as a device value of T (the CPU kernel's scalar_as).
template <typename T>
T scalar_as(const Scalar& v) {
  if constexpr (kReduced<T>) return convert<T>(float(v.to_double()));
  else if constexpr (std::is_same_v<T, bool>) return v.to_bool();
  else if constexpr (std::is_floating_point_v<T>) return T(v.to_double());
  else return v.is_floating() ? T(v.to_double()) : T(v.to_int());
}

// ---- gather ----
template <typename U>
__global__ void gather_dev(StridedView out, StridedView self, StridedView index, int dim, int64_t n) {
  const int64_t* idx = reinterpret_cast<const int64_t*>(index.data);
  RV_GRID_STRIDE(i, n) {
    int64_t p = i, ooff = 0, ioff = 0, soff = 0;
    for (int d = index.ndim - 1; d >= 0; --d) {
      const int64_t c = p % index.sizes[d];
      p /= index.sizes[d];
      ooff += c * out.strides[d];
      ioff += c * index.strides[d];
      if (d != dim) soff += c * self.strides[d];
    }
    reinterpret_cast<U*>(out.data)[ooff] =
        reinterpret_cast<const U*>(self.data)[soff + idx[ioff] * self.strides[dim]];
  }
}

void gather_cuda(const StridedView& out, const StridedView& self, const StridedView& index, int dim) {
  const int64_t n = numel_of(index);
  if (n == 0) return;
  dispatch_bits(out.dtype, [&](auto tag) {
    using U = typename decltype(tag)::type;
    gather_dev<U><<<grid_for(n), kThreads>>>(out, self, index, dim, n);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

// ---- scatter ----
template <typename T>
__global__ void scatter_dev(StridedView self, StridedView index, StridedView src, T value, int dim,
                            bool accumulate, int64_t lines) {
  RV_GRID_STRIDE(l, lines) { scatter_line<T>(self, index, src, value, dim, accumulate, l); }
}

void scatter_cuda(const StridedView& self, const StridedView& index, const StridedView& src,
                  const Scalar& value, int dim, bool accumulate) {
  const int64_t n = numel_of(index);
  if (n == 0) return;
  const int64_t lines = n / index.sizes[dim];
  dispatch_dtype(self.dtype, "scatter", [&](auto tag) {
    using T = typename decltype(tag)::type;
    scatter_dev<T><<<grid_for(lines), kThreads>>>(self, index, src, scalar_as<T>(value), dim,
                                                  accumulate, lines);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

// ---- advanced indexing ----
template <typename U>
__global__ void index_gather_dev(IndexArgs a, int64_t post_n, int64_t n) {
  const U* src = reinterpret_cast<const U*>(a.pre.data);
  U* out = reinterpret_cast<U*>(a.flat);
  RV_GRID_STRIDE(i, n) {
    const int64_t row = i / post_n, q = i % post_n;
    const int64_t p = row / a.n_index, k = row % a.n_index;
    out[i] = src[offset_of(a.pre.ndim, a.pre.sizes, a.pre.strides, p) + a.offsets[k] +
                 offset_of(a.post.ndim, a.post.sizes, a.post.strides, q)];
  }
}

void index_gather_cuda(const IndexArgs& a) {
  const int64_t post_n = numel_of(a.post), n = numel_of(a.pre) * a.n_index * post_n;
  if (n == 0) return;
  dispatch_bits(a.pre.dtype, [&](auto tag) {
    using U = typename decltype(tag)::type;
    index_gather_dev<U><<<grid_for(n), kThreads>>>(a, post_n, n);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
__global__ void index_put_dev(IndexArgs a, int64_t post_n, bool accumulate, int64_t units) {
  RV_GRID_STRIDE(u, units) { index_put_unit<T>(a, post_n, accumulate, u); }
}

template <typename T>
__global__ void index_put_runs_dev(IndexArgs a, int64_t post_n, bool accumulate,
                                   const int64_t* sorted_off, const int64_t* sorted_k, int64_t total) {
  RV_GRID_STRIDE(e, total) {
    index_put_run<T>(a, post_n, accumulate, sorted_off, sorted_k, e / a.n_index, e % a.n_index);
  }
}

__global__ void iota_dev(int64_t* k, int64_t n) {
  RV_GRID_STRIDE(i, n) { k[i] = i; }
}

// Few (p, q) units, many index rows: sort the rows by offset, one thread per run.
void index_put_sorted(const IndexArgs& a, int64_t post_n, int64_t units, bool accumulate) {
  const int64_t n = a.n_index;
  Scratch keys_out(size_t(n) * sizeof(int64_t)), k_in(size_t(n) * sizeof(int64_t)),
      k_out(size_t(n) * sizeof(int64_t));
  iota_dev<<<grid_for(n), kThreads>>>(k_in.as<int64_t>(), n);
  RV_CUDA_CHECK(cudaGetLastError());
  size_t bytes = 0;
  RV_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, a.offsets, keys_out.as<int64_t>(),
                                                k_in.as<int64_t>(), k_out.as<int64_t>(), n));
  Scratch temp(bytes);
  RV_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.p, bytes, a.offsets, keys_out.as<int64_t>(),
                                                k_in.as<int64_t>(), k_out.as<int64_t>(), n));
  const int64_t total = units * n;
  dispatch_dtype(a.pre.dtype, "index_put_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    index_put_runs_dev<T><<<grid_for(total), kThreads>>>(a, post_n, accumulate, keys_out.as<int64_t>(),
                                                         k_out.as<int64_t>(), total);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

void index_put_cuda(const IndexArgs& a, bool accumulate) {
  const int64_t post_n = numel_of(a.post), units = numel_of(a.pre) * post_n;
  if (units == 0 || a.n_index == 0) return;
  if (units < 4096 && a.n_index >= 64) return index_put_sorted(a, post_n, units, accumulate);
  dispatch_dtype(a.pre.dtype, "index_put_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    index_put_dev<T><<<grid_for(units), kThreads>>>(a, post_n, accumulate, units);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

// ---- masked_fill ----
template <typename U>
__global__ void masked_fill_dev(LoopSpec s, U value) {
  int64_t off[kMaxOperands];
  RV_GRID_STRIDE(i, s.numel) {
    loop_offsets(s, i, off);
    const bool m = reinterpret_cast<const uint8_t*>(s.data[2])[off[2]] != 0;
    reinterpret_cast<U*>(s.data[0])[off[0]] = m ? value : reinterpret_cast<const U*>(s.data[1])[off[1]];
  }
}

void masked_fill_cuda(const LoopSpec& s, const Scalar& value) {
  if (s.numel == 0) return;
  dispatch_dtype(s.dtypes[0], "masked_fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = scalar_as<T>(value);
    dispatch_bits(s.dtypes[0], [&](auto bits) {
      using U = typename decltype(bits)::type;
      U u;
      std::memcpy(&u, &v, sizeof u);
      masked_fill_dev<U><<<grid_for(s.numel), kThreads>>>(s, u);
    });
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

// ---- nonzero ----
template <typename T>
__global__ void count_dev(StridedView t, int64_t n, unsigned long long* count) {
  unsigned long long mine = 0;
  const T* p = reinterpret_cast<const T*>(t.data);
  RV_GRID_STRIDE(i, n) { mine += is_nonzero(p[offset_of(t.ndim, t.sizes, t.strides, i)]); }
  if (mine) atomicAdd(count, mine);  // integer sum: the order does not matter
}

template <typename T>
__global__ void mark_dev(StridedView t, int64_t n, int64_t* marks) {
  const T* p = reinterpret_cast<const T*>(t.data);
  RV_GRID_STRIDE(i, n) { marks[i] = is_nonzero(p[offset_of(t.ndim, t.sizes, t.strides, i)]); }
}

template <typename T>
__global__ void coords_dev(StridedView t, int64_t n, const int64_t* rows, int64_t* out) {
  const T* p = reinterpret_cast<const T*>(t.data);
  RV_GRID_STRIDE(i, n) {
    if (!is_nonzero(p[offset_of(t.ndim, t.sizes, t.strides, i)])) continue;
    int64_t* o = out + rows[i] * t.ndim;
    int64_t q = i;
    for (int d = t.ndim - 1; d >= 0; --d) {
      o[d] = q % t.sizes[d];
      q /= t.sizes[d];
    }
  }
}

int64_t nonzero_count_cuda(const StridedView& t) {
  const int64_t n = numel_of(t);
  if (n == 0) return 0;
  Scratch count(sizeof(unsigned long long));
  auto* c = static_cast<unsigned long long*>(count.p);
  RV_CUDA_CHECK(cudaMemset(c, 0, sizeof *c));
  dispatch_dtype(t.dtype, "nonzero", [&](auto tag) {
    using T = typename decltype(tag)::type;
    count_dev<T><<<grid_for(n), kThreads>>>(t, n, c);
  });
  RV_CUDA_CHECK(cudaGetLastError());
  unsigned long long host = 0;
  RV_CUDA_CHECK(cudaMemcpy(&host, c, sizeof host, cudaMemcpyDeviceToHost));
  return int64_t(host);
}

void nonzero_cuda(const StridedView& t, int64_t* out) {
  const int64_t n = numel_of(t);
  if (n == 0) return;
  Scratch marks(size_t(n) * sizeof(int64_t));
  int64_t* m = static_cast<int64_t*>(marks.p);
  dispatch_dtype(t.dtype, "nonzero", [&](auto tag) {
    using T = typename decltype(tag)::type;
    mark_dev<T><<<grid_for(n), kThreads>>>(t, n, m);
  });
  RV_CUDA_CHECK(cudaGetLastError());
  size_t temp_bytes = 0;
  RV_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, temp_bytes, m, m, n));
  Scratch temp(temp_bytes);
  RV_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp.p, temp_bytes, m, m, n));
  dispatch_dtype(t.dtype, "nonzero", [&](auto tag) {
    using T = typename decltype(tag)::type;
    coords_dev<T><<<grid_for(n), kThreads>>>(t, n, m, out);
  });
  RV_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void register_indexing_cuda() {
  gather_kernel.set(DeviceType::CUDA, &gather_cuda);
  scatter_kernel.set(DeviceType::CUDA, &scatter_cuda);
  index_gather_kernel.set(DeviceType::CUDA, &index_gather_cuda);
  index_put_kernel.set(DeviceType::CUDA, &index_put_cuda);
  masked_fill_kernel.set(DeviceType::CUDA, &masked_fill_cuda);
  nonzero_count_kernel.set(DeviceType::CUDA, &nonzero_count_cuda);
  nonzero_kernel.set(DeviceType::CUDA, &nonzero_cuda);
}

}  // namespace ranvier::cuda
