// Host-side test of the CUDA indexing kernels' writing units (kernels/cuda/indexing.cuh),
// compiled with nvcc and run on the CPU: scatter (assign and accumulate, tensor and value
// sources, many duplicate targets, float32 / float16 / int64 / bool) and index_put (assign
// and accumulate, duplicate offsets, pre and post dims; per unit, and per run of the rows
// sorted by offset) run line by line / unit by unit / run by run must
// leave the target bitwise as the CPU kernels (through their slots in libranvier) do.
// Built and run by .ci/cuda_build_check.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "core/half.h"
#include "kernels/cuda/indexing.cuh"

using namespace ranvier;
using namespace ranvier::cuda;

#include "cuda/test/check.h"
static const Device kCpu(DeviceType::CPU);

static StridedView view(void* data, DType dt, std::vector<int64_t> sizes, std::vector<int64_t> strides) {
  StridedView v;
  v.data = static_cast<char*>(data);
  v.dtype = dt;
  v.ndim = int(sizes.size());
  for (size_t d = 0; d < sizes.size(); ++d) {
    v.sizes[d] = sizes[d];
    v.strides[d] = strides[d];
  }
  return v;
}

// T: the CPU element type, D: the device type with the same bits.
template <typename T, typename D>
static void test_scatter(DType dt) {
  using E = std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>;  // vector<bool> has no data()
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-2, 2);
  const int64_t rows = 5, cols = 6, irows = 4, icols = 9;  // self [5, 6]; index at most [4, 9]
  for (int dim = 0; dim < 2; ++dim)
    for (int acc = 0; acc < 2; ++acc)
      for (int use_src = 0; use_src < 2; ++use_src) {
        std::vector<E> self(static_cast<size_t>(rows * cols)), src(static_cast<size_t>(irows * icols));
        for (auto& x : self) x = E(T(float(u(rng))));
        for (auto& x : src) x = E(T(float(u(rng))));
        std::vector<int64_t> idx(static_cast<size_t>(irows * icols));
        const int64_t lim = dim == 0 ? rows : cols;
        for (auto& x : idx) x = int64_t(rng() % uint64_t(lim));  // many duplicates
        // index [irows, icols] must fit self in the non-dim dims: use a [min(...)] window
        const int64_t ir = dim == 0 ? irows : std::min(irows, rows), ic = dim == 1 ? icols : std::min(icols, cols);
        std::vector<E> a = self, b = self;
        StridedView index = view(idx.data(), DType::Int64, {ir, ic}, {icols, 1});
        StridedView s_view = view(src.data(), dt, {ir, ic}, {icols, 1});
        StridedView none;
        const Scalar value(1.5);
        scatter_kernel.get(kCpu, "t")(view(a.data(), dt, {rows, cols}, {cols, 1}), index,
                                      use_src ? s_view : none, value, dim, acc);
        StridedView bv = view(b.data(), dt, {rows, cols}, {cols, 1});
        D dvalue;
        T tv = T(float(1.5));
        if constexpr (std::is_same_v<T, bool>) tv = true;
        std::memcpy(&dvalue, &tv, sizeof dvalue);
        const int64_t lines = ir * ic / (dim == 0 ? ir : ic);
        for (int64_t l = 0; l < lines; ++l)
          indexing_math::scatter_line<D>(bv, index, use_src ? s_view : none, dvalue, dim, acc, l);
        if (std::memcmp(a.data(), b.data(), a.size() * sizeof(E)) != 0) {
          if (failures < 20) std::printf("FAIL scatter %s dim %d acc %d src %d\n", dtype_name(dt), dim, acc, use_src);
          ++failures;
        }
      }
}

template <typename T, typename D>
static void test_index_put(DType dt) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> u(-2, 2);
  // self [3, 7, 4] indexed on dim 1 by 10 indices (duplicates): pre [3], post [4]
  const int64_t A = 3, B = 7, C = 4, K = 10;
  for (int acc = 0; acc < 2; ++acc) {
    std::vector<T> self(static_cast<size_t>(A * B * C)), vals(static_cast<size_t>(A * K * C));
    for (auto& x : self) x = T(float(u(rng)));
    for (auto& x : vals) x = T(float(u(rng)));
    std::vector<int64_t> offsets(static_cast<size_t>(K));
    for (auto& o : offsets) o = int64_t(rng() % uint64_t(B)) * C;
    std::vector<T> a = self, b = self;
    IndexArgs args;
    args.pre = view(a.data(), dt, {A}, {B * C});
    args.post = view(nullptr, dt, {C}, {1});
    args.offsets = offsets.data();
    args.n_index = K;
    args.flat = reinterpret_cast<char*>(vals.data());
    index_put_kernel.get(kCpu, "t")(args, acc);
    args.pre.data = reinterpret_cast<char*>(b.data());
    for (int64_t unit = 0; unit < A * C; ++unit) indexing_math::index_put_unit<D>(args, C, acc, unit);
    if (std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) != 0) {
      if (failures < 20) std::printf("FAIL index_put %s acc %d\n", dtype_name(dt), acc);
      ++failures;
    }
    // the sorted-runs path: rows stably sorted by offset, one call per (unit, sorted position)
    std::vector<T> c2 = self;
    std::vector<std::pair<int64_t, int64_t>> rows;
    for (int64_t k = 0; k < K; ++k) rows.push_back({offsets[static_cast<size_t>(k)], k});
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    std::vector<int64_t> so, sk;
    for (const auto& r : rows) {
      so.push_back(r.first);
      sk.push_back(r.second);
    }
    args.pre.data = reinterpret_cast<char*>(c2.data());
    for (int64_t unit = 0; unit < A * C; ++unit)
      for (int64_t i = 0; i < K; ++i)
        indexing_math::index_put_run<D>(args, C, acc, so.data(), sk.data(), unit, i);
    if (std::memcmp(a.data(), c2.data(), a.size() * sizeof(T)) != 0) {
      if (failures < 20) std::printf("FAIL index_put (sorted runs) %s acc %d\n", dtype_name(dt), acc);
      ++failures;
    }
  }
}

int main() {
  test_scatter<float, float>(DType::Float32);
  test_scatter<double, double>(DType::Float64);
  test_scatter<Half, DHalf>(DType::Float16);
  test_scatter<int64_t, int64_t>(DType::Int64);
  test_scatter<bool, bool>(DType::Bool);
  test_index_put<float, float>(DType::Float32);
  test_index_put<BFloat16, DBf16>(DType::BFloat16);
  test_index_put<int32_t, int32_t>(DType::Int32);
  if (failures) {
    std::printf("indexing_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("indexing_math_test: ok\n");
  return 0;
}
