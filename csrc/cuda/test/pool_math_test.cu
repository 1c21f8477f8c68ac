// Host-side test of the CUDA pooling kernels' per-element math and window tables
// (kernels/cuda/pool.cuh), compiled with nvcc and run on the CPU: max pool values and argmax,
// average pool, and both backward passes (as gathers per input element) must be bitwise the
// CPU kernels' (through their slots in libranvier) for padded, strided, dilated, ceil-mode,
// adaptive and plain 2x2 windows, with ties and NaN. Built and run by .ci/cuda_build_check.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cuda/pool.cuh"

using namespace ranvier;
using namespace ranvier::cuda::pool_math;

#include "cuda/test/check.h"
static const Device kCpu(DeviceType::CPU);

// Windows of kernel k, stride s, padding p, dilation d over size n, out outputs.
static PoolWindows regular(int64_t out, int64_t k, int64_t s, int64_t p, int64_t d, int64_t n,
                           bool with_div) {
  PoolWindows w;
  w.step = d;
  for (int64_t i = 0; i < out; ++i) {
    w.start.push_back(i * s - p);
    w.count.push_back(k);
    if (with_div) {
      int64_t lo = std::max<int64_t>(i * s - p, 0), hi = std::min<int64_t>(i * s - p + k, n);
      w.div.push_back(double(std::max<int64_t>(hi - lo, 1)));
    }
  }
  return w;
}
static PoolWindows adaptive(int64_t out, int64_t n) {
  PoolWindows w;
  for (int64_t i = 0; i < out; ++i) {
    int64_t a = (i * n) / out, b = ((i + 1) * n + out - 1) / out;
    w.start.push_back(a);
    w.count.push_back(b - a);
    w.div.push_back(double(b - a));
  }
  return w;
}

template <typename T>
static bool same(const std::vector<T>& a, const std::vector<T>& b) {
  return std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <typename T>
static void run_case(const char* name, DType dt, int64_t planes, int64_t h, int64_t w,
                     const PoolWindows& R, const PoolWindows& C, double divisor, bool avg) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> d(-3, 3);  // small integers: many ties
  std::vector<T> x(static_cast<size_t>(planes * h * w));
  for (auto& v : x) v = T(d(rng)) * T(0.5);
  if (x.size() > 20) x[7] = x[13] = T(NAN);
  PoolSpec s;
  s.dtype = dt;
  s.planes = planes;
  s.h = h;
  s.w = w;
  s.rows = &R;
  s.cols = &C;
  s.divisor = divisor;
  HostAxis hr = host_axis(R, h), hc = host_axis(C, w);
  PoolTables t;
  t.rows = axis_view(hr, hr.ints.data(), hr.div.data());
  t.cols = axis_view(hc, hc.ints.data(), hc.div.data());
  t.divisor = divisor;
  t.plain_2x2 = is_plain_2x2(s);
  const int64_t no = planes * int64_t(R.start.size() * C.start.size()), ni = planes * h * w;
  std::vector<T> g(static_cast<size_t>(no));
  for (auto& v : g) v = T(d(rng)) * T(0.25) + T(0.125);
  if (!avg) {
    std::vector<T> oc(static_cast<size_t>(no)), og(static_cast<size_t>(no));
    std::vector<int64_t> ic(static_cast<size_t>(no)), ig(static_cast<size_t>(no));
    max_pool_kernel.get(kCpu, "t")(s, reinterpret_cast<const char*>(x.data()),
                                   reinterpret_cast<char*>(oc.data()), ic.data());
    for (int64_t k = 0; k < no; ++k) max_forward<T>(t, x.data(), og.data(), ig.data(), k);
    std::vector<T> gc(static_cast<size_t>(ni)), gg(static_cast<size_t>(ni));
    max_pool_backward_kernel.get(kCpu, "t")(s, reinterpret_cast<const char*>(g.data()), ic.data(),
                                            reinterpret_cast<char*>(gc.data()));
    for (int64_t e = 0; e < ni; ++e) max_backward<T>(t, g.data(), ic.data(), gg.data(), e);
    if (!same(oc, og) || ic != ig || !same(gc, gg)) {
      std::printf("FAIL max %s (%s): values %d indices %d grad %d\n", name, dtype_name(dt),
                  same(oc, og), ic == ig, same(gc, gg));
      ++failures;
    }
  } else {
    for (auto& v : x)
      if (v != v) v = T(1);
    std::vector<T> oc(static_cast<size_t>(no)), og(static_cast<size_t>(no));
    avg_pool_kernel.get(kCpu, "t")(s, reinterpret_cast<const char*>(x.data()),
                                   reinterpret_cast<char*>(oc.data()));
    for (int64_t k = 0; k < no; ++k) avg_forward<T>(t, x.data(), og.data(), k);
    std::vector<T> gc(static_cast<size_t>(ni)), gg(static_cast<size_t>(ni));
    avg_pool_backward_kernel.get(kCpu, "t")(s, reinterpret_cast<const char*>(g.data()),
                                            reinterpret_cast<char*>(gc.data()));
    for (int64_t e = 0; e < ni; ++e) avg_backward<T>(t, g.data(), gg.data(), e);
    if (!same(oc, og) || !same(gc, gg)) {
      std::printf("FAIL avg %s (%s): values %d grad %d\n", name, dtype_name(dt), same(oc, og),
                  same(gc, gg));
      ++failures;
    }
  }
}

template <typename T>
static void test_all(DType dt) {
  // 3x3 stride 2 padding 1 on 9x11
  run_case<T>("3x3/2 pad 1", dt, 3, 9, 11, regular(5, 3, 2, 1, 1, 9, false), regular(6, 3, 2, 1, 1, 11, false), 0, false);
  // dilation 2, stride 1
  run_case<T>("3x3 dil 2", dt, 2, 8, 7, regular(4, 3, 1, 0, 2, 8, false), regular(3, 3, 1, 0, 2, 7, false), 0, false);
  // overlapping windows, ceil mode (last window hangs over the edge)
  run_case<T>("3x3/2 ceil", dt, 2, 8, 8, regular(4, 3, 2, 0, 1, 8, false), regular(4, 3, 2, 0, 1, 8, false), 0, false);
  run_case<T>("2x2 plain", dt, 4, 6, 9, regular(3, 2, 2, 0, 1, 6, false), regular(4, 2, 2, 0, 1, 9, false), 0, false);
  run_case<T>("adaptive max", dt, 2, 10, 7, adaptive(4, 10), adaptive(3, 7), 0, false);
  run_case<T>("avg 3x3/2 pad 1", dt, 3, 9, 11, regular(5, 3, 2, 1, 1, 9, true), regular(6, 3, 2, 1, 1, 11, true), 0, true);
  run_case<T>("avg include pad", dt, 3, 9, 11, regular(5, 3, 2, 1, 1, 9, false), regular(6, 3, 2, 1, 1, 11, false), 9.0, true);
  run_case<T>("adaptive avg", dt, 2, 10, 7, adaptive(4, 10), adaptive(3, 7), 0, true);
}

int main() {
  test_all<float>(DType::Float32);
  test_all<double>(DType::Float64);
  if (failures) {
    std::printf("pool_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("pool_math_test: ok\n");
  return 0;
}
