// Host-side test of the CUDA kernels' shared math, compiled with nvcc and run on the CPU (no GPU
// needed): loop_offsets() against nested loops over a strided iteration, and the device dtype
// conversions (float16 / bfloat16 rounding, bool, integers) against the core's CPU conversions
// (core/half.h). Built and run by .ci/cuda_build_check.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

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
  test_reduced();
  test_other_conversions();
  if (failures) {
    std::printf("kernel_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("kernel_math_test: ok\n");
  return 0;
}
