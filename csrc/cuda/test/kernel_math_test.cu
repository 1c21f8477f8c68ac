// Host-side test of the CUDA kernels' shared math, compiled with nvcc and run on the CPU (no GPU
// needed): loop_offsets() against nested loops over a strided iteration, and the device dtype
// conversions (float16 / bfloat16 rounding, bool, integers) against the core's CPU conversions
// (core/half.h). Built and run by .ci/cuda_build_check.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/test/check.h"

using namespace ranvier;
using namespace ranvier::cuda;


static void test_offsets() {
  // 3 operands over a [2, 3, 4] iteration: contiguous output, a transposed input, a broadcast
  // input (stride 0 in dim 1).
  LoopSpec s;
  s.ndim = 3;
  s.nops = 3;
  s.sizes[0] = 2; s.sizes[1] = 3; s.sizes[2] = 4;
  s.numel = 24;
  int64_t st[3][3] = {{12, 4, 1}, {1, 2, 6}, {4, 0, 1}};
  for (int k = 0; k < 3; ++k)
    for (int d = 0; d < 3; ++d) s.strides[k][d] = st[k][d];
  int64_t i = 0;
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t c = 0; c < 4; ++c, ++i) {
        int64_t off[kMaxOperands];
        loop_offsets(s, i, off);
        for (int k = 0; k < 3; ++k) CHECK(off[k] == a * st[k][0] + b * st[k][1] + c * st[k][2]);
      }
  // One strided dim (the path without division).
  LoopSpec one;
  one.ndim = 1; one.nops = 2; one.sizes[0] = 50; one.numel = 50;
  one.strides[0][0] = 1; one.strides[1][0] = -3;
  for (int64_t j = 0; j < 50; ++j) {
    int64_t o[kMaxOperands];
    loop_offsets(one, j, o);
    CHECK(o[0] == j && o[1] == -3 * j);
  }
  // Over 2^31 elements (64-bit division): [3, 2^30, 5], operand 1 transposed.
  LoopSpec big;
  big.ndim = 3; big.nops = 2;
  big.sizes[0] = 3; big.sizes[1] = int64_t(1) << 30; big.sizes[2] = 5;
  big.numel = 3 * (int64_t(1) << 30) * 5;
  const int64_t bs[2][3] = {{5 * (int64_t(1) << 30), 5, 1}, {1, 15, 3}};
  for (int k = 0; k < 2; ++k)
    for (int d = 0; d < 3; ++d) big.strides[k][d] = bs[k][d];
  for (int64_t a : {int64_t(0), int64_t(2)})
    for (int64_t b : {int64_t(0), int64_t(12345), (int64_t(1) << 30) - 1})
      for (int64_t c : {int64_t(0), int64_t(4)}) {
        const int64_t lin = (a * (int64_t(1) << 30) + b) * 5 + c;
        int64_t o[kMaxOperands];
        loop_offsets(big, lin, o);
        for (int k = 0; k < 2; ++k) CHECK(o[k] == a * bs[k][0] + b * bs[k][1] + c * bs[k][2]);
      }
  // One dim, numel 1 (a 0-d iteration).
  LoopSpec z;
  z.ndim = 1; z.nops = 2; z.sizes[0] = 1; z.numel = 1;
  int64_t off[kMaxOperands];
  loop_offsets(z, 0, off);
  CHECK(off[0] == 0 && off[1] == 0);
}

// Note [Fast index division]: the magic-number quotient equals n / d for every n < 2^31, and
// loop_offsets with the divisors equals the 64-bit walk.
static void test_fast_division() {
  std::mt19937_64 rng(7);
  const uint32_t ds[] = {1, 2, 3, 5, 7, 64, 100, 768, 1000, 2304, 50257, 65537, 1u << 20,
                         (1u << 20) + 1, 123456789, 1u << 30, (1u << 30) + 3, (1u << 31) - 1};
  for (uint32_t d : ds) {
    LoopSpec one;
    one.ndim = 2;
    one.numel = 1;
    one.sizes[0] = 1;
    one.sizes[1] = d;
    const Divisors dv = divisors_for(one);
    CHECK(dv.fast);
    std::vector<uint32_t> ns = {0, 1, d - 1, d, d + 1, 2 * d - 1, (1u << 31) - 1, (1u << 31) - 2};
    for (int r = 0; r < 2000; ++r) ns.push_back(uint32_t(rng() % (1u << 31)));
    for (uint32_t n : ns) {
      if (n >= (1u << 31)) continue;
      CHECK(fast_div(n, dv.magic[1], dv.shift[1]) == n / d);
    }
  }
  // Random shapes and strides: both walks give the same offsets.
  for (int t = 0; t < 200; ++t) {
    LoopSpec s;
    s.ndim = 2 + int(rng() % 5);
    s.nops = 3;
    s.numel = 1;
    for (int d = 0; d < s.ndim; ++d) {
      s.sizes[d] = 1 + int64_t(rng() % 40);
      s.numel *= s.sizes[d];
      for (int k = 0; k < 3; ++k) s.strides[k][d] = int64_t(rng() % 9) - (t % 2 ? 0 : 4);
    }
    const Divisors dv = divisors_for(s);
    CHECK(dv.fast);
    if (t % 2) CHECK(dv.small);  // non-negative strides over a small span: 32-bit offsets
    for (int64_t i = 0; i < s.numel; i += 1 + int64_t(rng() % 7)) {
      int64_t a[kMaxOperands], b[3], c[3];
      loop_offsets(s, i, a);
      loop_offsets(s, dv, i, b);
      loop_offsets(s, Divisors{}, i, c);  // the 64-bit walk of the fixed-count form
      for (int k = 0; k < 3; ++k) CHECK(a[k] == b[k] && a[k] == c[k]);
    }
    // offsets_of: 4 indices 5 apart at once, with the divisors (32- or 64-bit sums) and
    // without them (the per-index walk)
    for (int64_t base = 0; base < s.numel; base += 3) {
      int64_t u[4][3], w[4][3];
      offsets_of<3, 4>(s, dv, base, 5, u);
      offsets_of<3, 4>(s, Divisors{}, base, 5, w);
      Divisors big_sums = dv;
      big_sums.small = false;
      int64_t x[4][3];
      offsets_of<3, 4>(s, big_sums, base, 5, x);
      for (int j = 0; j < 4; ++j) {
        if (base + 5 * j >= s.numel) continue;
        int64_t a[kMaxOperands];
        loop_offsets(s, base + 5 * j, a);
        for (int k = 0; k < 3; ++k) CHECK(u[j][k] == a[k] && w[j][k] == a[k] && x[j][k] == a[k]);
      }
    }
  }
  // At 2^31 elements and above the 64-bit walk stays.
  LoopSpec big;
  big.ndim = 2;
  big.sizes[0] = 2;
  big.sizes[1] = int64_t(1) << 30;
  big.numel = int64_t(1) << 31;
  CHECK(!divisors_for(big).fast);
  // Fewer than 2^31 elements whose offsets reach past 2^31: 64-bit offsets after the division.
  LoopSpec wide;
  wide.ndim = 2;
  wide.nops = 2;
  wide.sizes[0] = 4;
  wide.sizes[1] = 3;
  wide.numel = 12;
  wide.strides[0][0] = 3;
  wide.strides[0][1] = 1;
  wide.strides[1][0] = int64_t(1) << 30;
  wide.strides[1][1] = 5;
  const Divisors wd = divisors_for(wide);
  CHECK(wd.fast && !wd.small);
  for (int64_t i = 0; i < 12; ++i) {
    int64_t b[2];
    loop_offsets(wide, wd, i, b);
    CHECK(b[0] == i && b[1] == (i / 3) * (int64_t(1) << 30) + (i % 3) * 5);
  }
}

static bool same_float(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, 4) == 0;
}

static void test_reduced() {
  // Every 16-bit pattern to float matches the CPU's.
  for (uint32_t u = 0; u < 65536; ++u) {
    Half h; h.x = uint16_t(u);
    BFloat16 b; b.x = uint16_t(u);
    CHECK(same_float(convert<float>(DHalf{uint16_t(u)}), float(h)));
    CHECK(same_float(convert<float>(DBf16{uint16_t(u)}), float(b)));
  }
  // float to 16 bits: special values, ties, and random floats round like the CPU (RNE).
  float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65520.0f, 1e-8f, 6e-8f, 3e38f,
                      INFINITY, -INFINITY, 1.0009765625f, 1.00048828125f, 1.00146484375f};
  for (float f : specials) {
    CHECK(convert<DHalf>(f).x == Half(f).x);
    CHECK(convert<DBf16>(f).x == BFloat16(f).x);
  }
  std::mt19937 rng(0);
  for (int n = 0; n < 200000; ++n) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) {
      CHECK(std::isnan(convert<float>(convert<DHalf>(f))));
      CHECK(std::isnan(convert<float>(convert<DBf16>(f))));
      continue;
    }
    CHECK(convert<DHalf>(f).x == Half(f).x);
    CHECK(convert<DBf16>(f).x == BFloat16(f).x);
  }
}

static void test_other_conversions() {
  CHECK(convert<bool>(0.5f) == true);
  CHECK(convert<bool>(0.0) == false);
  CHECK(convert<bool>(int64_t(-3)) == true);
  CHECK(convert<bool>(DHalf{0x8000}) == false);  // -0.0
  CHECK(convert<int64_t>(-2.75) == -2);
  CHECK(convert<int32_t>(3.99f) == 3);
  CHECK(convert<uint8_t>(int64_t(300)) == uint8_t(300 & 0xff));
  CHECK(convert<float>(true) == 1.0f);
  CHECK(convert<double>(int32_t(-7)) == -7.0);
  CHECK(convert<DHalf>(int64_t(3)).x == Half(3.0f).x);
  CHECK(convert<int64_t>(DBf16{BFloat16(-5.0f).x}) == -5);
  CHECK(convert<DBf16>(DHalf{Half(1.5f).x}).x == BFloat16(1.5f).x);
}

int main() {
  test_offsets();
  test_fast_division();
  test_reduced();
  test_other_conversions();
  if (failures) {
    std::printf("kernel_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("kernel_math_test: ok\n");
  return 0;
}
