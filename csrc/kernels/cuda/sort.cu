// CUDA kernels of the sort family (ops/sort.h): sort (stable, ascending or descending, the
// first k of each line: sort / argsort / topk) for every dtype, and unique's grouping.
// sort: every element becomes (sort_key, position) in a line-contiguous buffer (sort.cuh: key
// order = the CPU comparator's order), CUB's stable segmented sort orders each line, and the
// first k of each line are written out; results equal the CPU's stable sort exactly.
// unique_groups: a "starts a new group" flag per sorted element, CUB's inclusive scan, minus 1.
#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/scratch.cuh"
#include "kernels/cuda/sort.cuh"
#include "ops/sort.h"

namespace ranvier::cuda {

namespace {

using namespace sort_math;

template <typename T>
__global__ void keys_dev(StridedView in, int dim, int64_t n, int64_t total, key_of<T>* keys,
                         int64_t* pos) {
  const T* src = reinterpret_cast<const T*>(in.data);
  RV_GRID_STRIDE(e, total) {
    const int64_t l = e / n, i = e % n;
    keys[e] = sort_key(src[line_offset(in.ndim, in.sizes, in.strides, dim, l) + i * in.strides[dim]]);
    pos[e] = i;
  }
}

__global__ void offsets_dev(int64_t* offs, int64_t lines, int64_t n) {
  RV_GRID_STRIDE(l, lines + 1) { offs[l] = l * n; }
}

template <typename U>
__global__ void write_dev(StridedView values, StridedView indices, StridedView in, int dim,
                          int64_t n, int64_t k, int64_t total, const int64_t* pos) {
  const U* src = reinterpret_cast<const U*>(in.data);
  RV_GRID_STRIDE(e, total) {
    const int64_t l = e / k, i = e % k;
    const int64_t p = pos[l * n + i];
    reinterpret_cast<U*>(values.data)[line_offset(values.ndim, values.sizes, values.strides, dim, l) +
                                      i * values.strides[dim]] =
        src[line_offset(in.ndim, in.sizes, in.strides, dim, l) + p * in.strides[dim]];
    reinterpret_cast<int64_t*>(indices.data)[line_offset(indices.ndim, indices.sizes, indices.strides,
                                                         dim, l) + i * indices.strides[dim]] = p;
  }
}

template <typename T>
void sort_typed(const StridedView& values, const StridedView& indices, const StridedView& in,
                int dim, bool descending, int64_t k) {
  using K = key_of<T>;
  const int64_t n = in.sizes[dim];
  int64_t total = 1;
  for (int d = 0; d < in.ndim; ++d) total *= in.sizes[d];
  const int64_t lines = total / n;
  Scratch keys_in(size_t(total) * sizeof(K)), keys_out(size_t(total) * sizeof(K));
  Scratch pos_in(size_t(total) * sizeof(int64_t)), pos_out(size_t(total) * sizeof(int64_t));
  Scratch offs(size_t(lines + 1) * sizeof(int64_t));
  keys_dev<T><<<grid_for(total), kThreads>>>(in, dim, n, total, keys_in.as<K>(), pos_in.as<int64_t>());
  RV_CUDA_CHECK(cudaGetLastError());
  offsets_dev<<<grid_for(lines + 1), kThreads>>>(offs.as<int64_t>(), lines, n);
  RV_CUDA_CHECK(cudaGetLastError());
  const int64_t* o = offs.as<int64_t>();
  size_t bytes = 0;
  auto run = [&](void* temp) {
    if (descending)
      return cub::DeviceSegmentedSort::StableSortPairsDescending(
          temp, bytes, keys_in.as<K>(), keys_out.as<K>(), pos_in.as<int64_t>(),
          pos_out.as<int64_t>(), total, lines, o, o + 1);
    return cub::DeviceSegmentedSort::StableSortPairs(temp, bytes, keys_in.as<K>(), keys_out.as<K>(),
                                                     pos_in.as<int64_t>(), pos_out.as<int64_t>(),
                                                     total, lines, o, o + 1);
  };
  RV_CUDA_CHECK(run(nullptr));
  Scratch temp(bytes);
  RV_CUDA_CHECK(run(temp.p));
  const int64_t out_total = lines * k;
  if (out_total == 0) return;
  switch (element_size(in.dtype)) {
    case 1: write_dev<uint8_t><<<grid_for(out_total), kThreads>>>(values, indices, in, dim, n, k, out_total, pos_out.as<int64_t>()); break;
    case 2: write_dev<uint16_t><<<grid_for(out_total), kThreads>>>(values, indices, in, dim, n, k, out_total, pos_out.as<int64_t>()); break;
    case 4: write_dev<uint32_t><<<grid_for(out_total), kThreads>>>(values, indices, in, dim, n, k, out_total, pos_out.as<int64_t>()); break;
    default: write_dev<uint64_t><<<grid_for(out_total), kThreads>>>(values, indices, in, dim, n, k, out_total, pos_out.as<int64_t>()); break;
  }
  RV_CUDA_CHECK(cudaGetLastError());
}

void sort_cuda(const StridedView& values, const StridedView& indices, const StridedView& in,
               int dim, bool descending, int64_t k) {
  int64_t total = 1;
  for (int d = 0; d < in.ndim; ++d) total *= in.sizes[d];
  if (total == 0) return;
  dispatch_dtype(in.dtype, "sort", [&](auto tag) {
    using T = typename decltype(tag)::type;
    sort_typed<T>(values, indices, in, dim, descending, k);
  });
}

template <typename T>
__global__ void group_flags_dev(StridedView sorted, int64_t n, int64_t* group) {
  const T* p = reinterpret_cast<const T*>(sorted.data);
  const int64_t s = sorted.strides[0];
  RV_GRID_STRIDE(i, n) { group[i] = (i == 0 || differs(p[(i - 1) * s], p[i * s])) ? 1 : 0; }
}

__global__ void minus_one_dev(int64_t* group, int64_t n) {
  RV_GRID_STRIDE(i, n) { group[i] -= 1; }
}

int64_t unique_groups_cuda(const StridedView& sorted, int64_t* group) {
  const int64_t n = sorted.sizes[0];
  if (n == 0) return 0;
  dispatch_dtype(sorted.dtype, "unique", [&](auto tag) {
    using T = typename decltype(tag)::type;
    group_flags_dev<T><<<grid_for(n), kThreads>>>(sorted, n, group);
  });
  RV_CUDA_CHECK(cudaGetLastError());
  size_t bytes = 0;
  RV_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, bytes, group, group, n));
  Scratch temp(bytes);
  RV_CUDA_CHECK(cub::DeviceScan::InclusiveSum(temp.p, bytes, group, group, n));
  int64_t count = 0;
  RV_CUDA_CHECK(cudaMemcpy(&count, group + (n - 1), sizeof count, cudaMemcpyDeviceToHost));
  minus_one_dev<<<grid_for(n), kThreads>>>(group, n);
  RV_CUDA_CHECK(cudaGetLastError());
  return count;
}

}  // namespace

void register_sort_cuda() {
  sort_kernel.set(DeviceType::CUDA, &sort_cuda);
  unique_groups_kernel.set(DeviceType::CUDA, &unique_groups_cuda);
}

}  // namespace ranvier::cuda
