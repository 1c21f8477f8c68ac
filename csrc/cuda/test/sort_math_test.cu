// Host-side test of the CUDA sort kernels' keys and grouping (kernels/cuda/sort.cuh), compiled
// with nvcc and run on the CPU: a stable sort by sort_key (what CUB's stable segmented radix
// sort computes) must give the CPU sort kernel's values and indices (through its slot in
// libranvier), ascending and descending, for every dtype, with NaN, -0.0 / +0.0, infinities
// and many ties; the group flags must reproduce the CPU's unique_groups.
// Built and run by .ci/cuda_build_check.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "core/half.h"
#include "kernels/cuda/sort.cuh"
#include "ops/sort.h"

using namespace ranvier;
using namespace ranvier::cuda;
using namespace ranvier::cuda::sort_math;

#include "cuda/test/check.h"
static const Device kCpu(DeviceType::CPU);

// C: the CPU element type, D: the device type with the same bits.
template <typename C, typename D>
static void run(DType dt) {
  using E = std::conditional_t<std::is_same_v<C, bool>, uint8_t, C>;
  std::mt19937 rng(9);
  const int64_t lines = 7, n = 301;
  std::vector<E> x(static_cast<size_t>(lines * n));
  const double specials[] = {0.0, -0.0, NAN, -NAN, INFINITY, -INFINITY, 1.5, -2.0};
  for (auto& v : x) {
    const int r = int(rng() % 16);
    double d = r < 8 ? specials[r] : double(int(rng() % 9) - 4);
    if constexpr (!std::is_floating_point_v<C> && !std::is_same_v<C, Half> && !std::is_same_v<C, BFloat16>) {
      if (std::isnan(d) || std::isinf(d)) d = double(int(rng() % 5));
      if constexpr (std::is_same_v<C, uint8_t> || std::is_same_v<C, bool>) d = std::fabs(d);
    }
    v = E(C(float(d)));
    if constexpr (std::is_floating_point_v<C>) v = C(d);
  }
  for (int desc = 0; desc < 2; ++desc) {
    StridedView in;
    in.data = reinterpret_cast<char*>(x.data());
    in.dtype = dt;
    in.ndim = 2;
    in.sizes[0] = lines;
    in.sizes[1] = n;
    in.strides[0] = n;
    in.strides[1] = 1;
    std::vector<E> vc(x.size());
    std::vector<int64_t> ic(x.size());
    StridedView vv = in, iv = in;
    vv.data = reinterpret_cast<char*>(vc.data());
    iv.data = reinterpret_cast<char*>(ic.data());
    iv.dtype = DType::Int64;
    sort_kernel.get(kCpu, "t")(vv, iv, in, 1, desc, n);
    bool ok = true;
    for (int64_t l = 0; l < lines; ++l) {
      std::vector<std::pair<key_of<D>, int64_t>> kv;
      for (int64_t i = 0; i < n; ++i) {
        D d;
        std::memcpy(&d, &x[size_t(l * n + i)], sizeof d);
        kv.push_back({sort_key(d), i});
      }
      if (desc)
        std::stable_sort(kv.begin(), kv.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      else
        std::stable_sort(kv.begin(), kv.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (int64_t i = 0; i < n; ++i) {
        const int64_t p = kv[size_t(i)].second;
        ok = ok && ic[size_t(l * n + i)] == p &&
             std::memcmp(&vc[size_t(l * n + i)], &x[size_t(l * n + p)], sizeof(E)) == 0;
      }
    }
    // unique's groups over the first sorted line
    StridedView s1;
    s1.data = reinterpret_cast<char*>(vc.data());
    s1.dtype = dt;
    s1.ndim = 1;
    s1.sizes[0] = n;
    s1.strides[0] = 1;
    std::vector<int64_t> gc(static_cast<size_t>(n));
    const int64_t count = unique_groups_kernel.get(kCpu, "t")(s1, gc.data());
    int64_t g = 0;
    for (int64_t i = 0; i < n; ++i) {
      D a, b;
      std::memcpy(&b, &vc[size_t(i)], sizeof b);
      if (i > 0) std::memcpy(&a, &vc[size_t(i - 1)], sizeof a);
      g += (i == 0 || differs(a, b)) ? 1 : 0;
      ok = ok && gc[size_t(i)] == g - 1;
    }
    ok = ok && count == g;
    if (!ok) {
      std::printf("FAIL sort %s descending %d\n", dtype_name(dt), desc);
      ++failures;
    }
  }
}

int main() {
  run<float, float>(DType::Float32);
  run<double, double>(DType::Float64);
  run<Half, DHalf>(DType::Float16);
  run<BFloat16, DBf16>(DType::BFloat16);
  run<int64_t, int64_t>(DType::Int64);
  run<int32_t, int32_t>(DType::Int32);
  run<uint8_t, uint8_t>(DType::UInt8);
  run<bool, bool>(DType::Bool);
  if (failures) {
    std::printf("sort_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("sort_math_test: ok\n");
  return 0;
}
