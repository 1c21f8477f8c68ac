// Host-side test of the CUDA reduction and scan math (kernels/cuda/{reduce,scan}.cuh), compiled
// with nvcc and run on the CPU, against the CPU kernels (called through their slots in
// libranvier):
//   - reductions: the block walk (256 strided partial results + the fixed tree) and the
//     thread walk give the CPU's result: exactly for integers, bool, max/min (values and first
//     winner's index, NaN included), within rounding for float sums / products / norms;
//   - scans and the cumprod gradient: bit for bit, forward / reversed, inclusive / exclusive.
// Built and run by .ci/cuda_build_check.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <type_traits>
#include <vector>

#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/scan.cuh"
#include "ops/reduce.h"
#include "cuda/test/check.h"

using namespace ranvier;
using namespace ranvier::cuda;


// A [rows, cols] input reduced over dim `dim` (0 or 1), strides as given.
static ReduceSpec make_spec(const void* in, DType dt, int64_t rows, int64_t cols, int64_t rs,
                            int64_t cs, int dim) {
  ReduceSpec s;
  s.in = static_cast<const char*>(in);
  s.in_dtype = dt;
  s.nouter = 1;
  s.ninner = 1;
  s.outer_sizes[0] = dim == 1 ? rows : cols;
  s.outer_strides[0] = dim == 1 ? rs : cs;
  s.inner_sizes[0] = dim == 1 ? cols : rows;
  s.inner_strides[0] = dim == 1 ? cs : rs;
  s.outer_numel = s.outer_sizes[0];
  s.inner_numel = s.inner_sizes[0];
  return s;
}

// The CUDA kernel's result for output o by either walk, run on the host.
template <typename T, typename Op>
static typename Op::acc_t device_walk(const ReduceSpec& s, const Op& op, int64_t o, bool block) {
  using namespace reduce_math;
  const T* in = reinterpret_cast<const T*>(s.in);
  if (!block) return reduce_strided<T>(s, op, in, outer_offset(s, o), 0, 1);
  std::unique_ptr<typename Op::acc_t[]> slots(new typename Op::acc_t[256]);
  for (int t = 0; t < 256; ++t) slots[t] = reduce_strided<T>(s, op, in, outer_offset(s, o), t, 256);
  tree_combine_host(op, slots.get(), 256);
  return slots[0];
}

static bool close(double a, double b, double rtol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::fabs(a - b) <= rtol * (std::fabs(b) + 1e-30) || a == b;
}

// Element storage (bool as bytes: std::vector<bool> has no data()).
template <typename T> using Elem = std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>;

template <typename T>
static std::vector<Elem<T>> data(int64_t n, std::mt19937& rng, bool with_nan) {
  std::vector<Elem<T>> v(static_cast<size_t>(n));
  std::uniform_int_distribution<int> d(-6, 6);
  for (auto& x : v) x = Elem<T>(T(d(rng)));  // small values: many ties for max/min
  if constexpr (std::is_floating_point_v<T>) {
    std::uniform_real_distribution<double> u(0.5, 1.5);
    for (auto& x : v) x = T(double(x) * u(rng));
    if (with_nan && n > 10) v[size_t(n / 3)] = v[size_t(n / 2)] = T(NAN);
  }
  return v;
}

template <typename T>
static void test_reduce_type(DType dt) {
  using namespace reduce_math;
  std::mt19937 rng(1);
  struct Case { int64_t rows, cols; int dim; bool transposed; };
  const Case cases[] = {{3, 1000, 1, false}, {7, 5, 1, false}, {1000, 3, 0, false},
                        {600, 4, 1, true}, {5, 1, 1, false}, {2, 70000, 1, false}};
  for (const Case& c : cases) {
    for (int nan = 0; nan < 2; ++nan) {
      std::vector<Elem<T>> v = data<T>(c.rows * c.cols, rng, nan);
      const int64_t rs = c.transposed ? 1 : c.cols, cs = c.transposed ? c.rows : 1;
      ReduceSpec s = make_spec(v.data(), dt, c.rows, c.cols, rs, cs, c.dim);
      const int64_t no = s.outer_numel;
      auto cpu = [&](ReduceOp op, DType out_dt, bool idx, double p = 2.0) {
        std::vector<double> vals(static_cast<size_t>(no));
        std::vector<int64_t> ids(static_cast<size_t>(no));
        std::vector<char> raw(size_t(no) * 8);
        ReduceSpec r = s;
        r.out = raw.data();
        r.out_dtype = out_dt;
        r.indices = idx ? ids.data() : nullptr;
        r.p = p;
        reduce_kernel.get(Device(DeviceType::CPU), "test")(op, r);
        for (int64_t o = 0; o < no; ++o) {
          switch (out_dt) {
            case DType::Float32: vals[o] = reinterpret_cast<float*>(raw.data())[o]; break;
            case DType::Float64: vals[o] = reinterpret_cast<double*>(raw.data())[o]; break;
            case DType::Int64: vals[o] = double(reinterpret_cast<int64_t*>(raw.data())[o]); break;
            case DType::Int32: vals[o] = reinterpret_cast<int32_t*>(raw.data())[o]; break;
            case DType::UInt8: vals[o] = reinterpret_cast<uint8_t*>(raw.data())[o]; break;
            default: vals[o] = reinterpret_cast<bool*>(raw.data())[o]; break;
          }
        }
        return std::make_pair(vals, ids);
      };
      constexpr bool kFloat = std::is_floating_point_v<T>;
      const DType sum_dt = kFloat ? dt : DType::Int64;
      for (int block = 0; block < 2; ++block) {
        auto sum = cpu(ReduceOp::Sum, sum_dt, false);
        auto prod = cpu(ReduceOp::Prod, sum_dt, false);
        auto mx = cpu(ReduceOp::Max, dt, true);
        auto mn = cpu(ReduceOp::Min, dt, true);
        auto mxv = cpu(ReduceOp::Max, dt, false);
        auto any = cpu(ReduceOp::Any, DType::Bool, false);
        auto all = cpu(ReduceOp::All, DType::Bool, false);
        for (int64_t o = 0; o < no; ++o) {
          double g = double(SumAcc<T>{}.template value<T>(device_walk<T>(s, SumAcc<T>{}, o, block)));
          if constexpr (!kFloat) g = double(device_walk<T>(s, SumAcc<T>{}, o, block));
          CHECK(close(g, sum.first[o], kFloat ? 1e-6 : 0), "sum %g vs %g (case %lld, block %d)", g,
                sum.first[o], (long long)c.rows, block);
          double gp = double(device_walk<T>(s, ProdAcc<T>{}, o, block));
          if constexpr (kFloat) gp = double(T(gp));
          CHECK(close(gp, prod.first[o], kFloat ? 1e-6 : 0), "prod %g vs %g", gp, prod.first[o]);
          auto a = device_walk<T>(s, ExtremeAcc<T, true>{}, o, block);
          CHECK(close(double(a.v), mx.first[o], 0) && a.i == mx.second[o],
                "max %g@%lld vs %g@%lld", double(a.v), (long long)a.i, mx.first[o],
                (long long)mx.second[o]);
          auto b = device_walk<T>(s, ExtremeAcc<T, false>{}, o, block);
          CHECK(close(double(b.v), mn.first[o], 0) && b.i == mn.second[o], "min %g@%lld vs %g@%lld",
                double(b.v), (long long)b.i, mn.first[o], (long long)mn.second[o]);
          double mv = double(device_walk<T>(s, ValueExtremeAcc<T, true>{}, o, block));
          CHECK(close(mv, mxv.first[o], 0), "max value %g vs %g", mv, mxv.first[o]);
          CHECK(double(device_walk<T>(s, LogicAcc<T, false>{}, o, block)) == any.first[o], "any");
          CHECK(double(device_walk<T>(s, LogicAcc<T, true>{}, o, block)) == all.first[o], "all");
        }
        if constexpr (kFloat) {
          for (double p : {0.0, 1.0, 2.0, 3.5, double(INFINITY), -double(INFINITY)}) {
            auto n = cpu(ReduceOp::Norm, dt, false, p);
            NormAcc<T> op{norm_mode(p), p};
            for (int64_t o = 0; o < no; ++o) {
              double g = double(op.template value<T>(device_walk<T>(s, op, o, block)));
              CHECK(close(g, n.first[o], 1e-6), "norm p=%g: %g vs %g", p, g, n.first[o]);
            }
          }
        }
      }
    }
  }
}

template <typename T, typename Out>
static void test_scan_type(DType dt, DType out_dt) {
  std::mt19937 rng(2);
  const int64_t rows = 9, cols = 37;
  std::vector<Elem<T>> v = data<T>(rows * cols, rng, false);
  for (int dim = 0; dim < 2; ++dim)
    for (int op = 0; op < 2; ++op)
      for (int flags = 0; flags < 4; ++flags) {
        ScanSpec s;
        s.op = op ? ScanOp::Prod : ScanOp::Sum;
        s.exclusive = flags & 1;
        s.reverse = flags & 2;
        s.in = reinterpret_cast<const char*>(v.data());
        s.in_dtype = dt;
        s.out_dtype = out_dt;
        s.n = dim ? cols : rows;
        s.in_stride = s.out_stride = dim ? 1 : cols;
        s.nouter = 1;
        s.outer_sizes[0] = dim ? rows : cols;
        s.in_outer_strides[0] = s.out_outer_strides[0] = dim ? cols : 1;
        s.outer_numel = s.outer_sizes[0];
        std::vector<Out> a(static_cast<size_t>(rows * cols)), b(static_cast<size_t>(rows * cols));
        s.out = reinterpret_cast<char*>(a.data());
        scan_kernel.get(Device(DeviceType::CPU), "test")(s);
        s.out = reinterpret_cast<char*>(b.data());
        for (int64_t o = 0; o < s.outer_numel; ++o) scan_math::scan_line<T, Out>(s, o);
        CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(Out)) == 0,
              "scan dtype %d dim %d op %d flags %d", int(dt), dim, op, flags);
      }
}

template <typename T>
static void test_cumprod_grad(DType dt) {
  std::mt19937 rng(3);
  const int64_t rows = 6, cols = 23;
  std::vector<T> x = data<T>(rows * cols, rng, false), g = data<T>(rows * cols, rng, false);
  x[5] = T(0);
  x[40] = x[41] = T(0);
  for (int dim = 0; dim < 2; ++dim) {
    CumprodGradSpec c;
    ScanSpec& s = c.scan;
    s.in = reinterpret_cast<const char*>(x.data());
    s.in_dtype = s.out_dtype = dt;
    s.n = dim ? cols : rows;
    s.in_stride = s.out_stride = c.grad_stride = dim ? 1 : cols;
    s.nouter = 1;
    s.outer_sizes[0] = dim ? rows : cols;
    s.in_outer_strides[0] = s.out_outer_strides[0] = c.grad_outer_strides[0] = dim ? cols : 1;
    s.outer_numel = s.outer_sizes[0];
    c.grad = reinterpret_cast<const char*>(g.data());
    std::vector<T> a(x.size()), b(x.size());
    s.out = reinterpret_cast<char*>(a.data());
    cumprod_grad_kernel.get(Device(DeviceType::CPU), "test")(c);
    s.out = reinterpret_cast<char*>(b.data());
    for (int64_t o = 0; o < s.outer_numel; ++o) scan_math::cumprod_grad_line<T>(c, o);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0, "cumprod_grad dim %d", dim);
  }
}

int main() {
  test_reduce_type<float>(DType::Float32);
  test_reduce_type<double>(DType::Float64);
  test_reduce_type<int64_t>(DType::Int64);
  test_reduce_type<int32_t>(DType::Int32);
  test_reduce_type<uint8_t>(DType::UInt8);
  test_reduce_type<bool>(DType::Bool);
  test_scan_type<float, float>(DType::Float32, DType::Float32);
  test_scan_type<double, double>(DType::Float64, DType::Float64);
  test_scan_type<int32_t, int64_t>(DType::Int32, DType::Int64);
  test_scan_type<bool, int64_t>(DType::Bool, DType::Int64);
  test_scan_type<uint8_t, int64_t>(DType::UInt8, DType::Int64);
  test_cumprod_grad<float>(DType::Float32);
  test_cumprod_grad<double>(DType::Float64);
  if (failures) {
    std::printf("reduce_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("reduce_math_test: ok\n");
  return 0;
}
