// Host-side test of the index math of the cuBLAS-backed CUDA kernels, compiled with nvcc and
// run on the CPU (no GPU needed): how the GEMM hands strided operands to cuBLAS and finds one
// batch stride (kernels/cuda/gemm.cuh), and whole GEMM plans (matmul's GemmSpec with random
// layouts and batch strides, the row-major helper) run through a plain model of what
// cublasGemmStridedBatchedEx computes, against a naive product, and im2col / col2im element by element
// (kernels/cuda/conv.cuh) against the CPU kernels of kernels/cpu/im2col.h, bit for bit, and
// the recurrent gate math (kernels/cuda/rnn.cuh): the backward of one unit against finite
// differences of its forward, for LSTM, GRU and the tanh / relu RNN.
// Built and run by .ci/cuda_build_check.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/im2col.h"
#include "kernels/cuda/conv.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/rnn.cuh"
#include "cuda/test/check.h"

using namespace ranvier;
using namespace ranvier::cuda;


static std::mt19937 rng(1234);
static int64_t rnd(int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

// Every element X[i][j] (at i*rs + j*cs) must be the element cuBLAS reads as X^T(j, i):
// op N: column-major (cols x rows) storage, X^T(j, i) at j + i*ld; op T: column-major
// (rows x cols) storage M, X^T(j, i) = M(i, j) at i + j*ld. And ld is what cuBLAS accepts.
static void check_operand(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool expect_ok) {
  GemmOperand o = gemm_operand(rows, cols, rs, cs);
  CHECK(o.ok == expect_ok);
  if (!o.ok) return;
  const int64_t need = o.trans ? (rows > 1 ? rows : 1) : (cols > 1 ? cols : 1);
  CHECK(o.ld >= need);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t want = i * rs + j * cs;
      const int64_t got = o.trans ? i + j * o.ld : j + i * o.ld;
      CHECK(got == want);
    }
}

static void test_operands() {
  check_operand(3, 5, 5, 1, true);    // row-major
  check_operand(3, 5, 1, 3, true);    // transposed view
  check_operand(3, 5, 8, 1, true);    // row-major slice, ld 8
  check_operand(3, 5, 1, 7, true);    // transposed slice
  check_operand(3, 5, 10, 2, false);  // every other column: packed copy
  check_operand(3, 5, 0, 1, false);   // expanded rows (stride 0): packed copy
  check_operand(1, 5, 99, 1, true);   // one row: ld from cols
  check_operand(4, 1, 1, 0, true);    // one column
  check_operand(4, 1, 3, 0, true);
  check_operand(1, 1, 0, 0, true);
  check_operand(1, 5, 0, 2, true);    // one row with a stride: op T, ld 2
  for (int it = 0; it < 300; ++it) {
    const int64_t r = rnd(1, 6), c = rnd(1, 6);
    const int kind = int(rnd(0, 2));
    if (kind == 0) check_operand(r, c, c + rnd(0, 3), 1, true);
    if (kind == 1) check_operand(r, c, 1, r + rnd(0, 3), true);
    if (kind == 2) check_operand(r, c, rnd(2, 9) * c, rnd(2, 3), r == 1 || c == 1);
  }
}

static void test_batch() {
  for (int it = 0; it < 2000; ++it) {
    BatchDims b;
    b.n = int(rnd(0, 4));
    int64_t numel = 1;
    int64_t acc = rnd(1, 3) * 6;
    for (int d = b.n - 1; d >= 0; --d) {
      b.sizes[d] = rnd(1, 3);
      const int kind = int(rnd(0, 3));
      b.strides[d] = kind == 0 ? 0 : kind == 1 ? acc : rnd(0, 40);
      acc *= b.sizes[d];
      numel *= b.sizes[d];
    }
    // brute force: one stride s with offset(bi) == bi * s for every bi
    int64_t s = numel > 1 ? batch_offset(b, 1) : 0;
    bool single = true;
    for (int64_t bi = 0; bi < numel; ++bi) single = single && batch_offset(b, bi) == bi * s;
    int64_t got = -7;
    const bool ok = single_batch_stride(b, &got);
    if (ok) {
      for (int64_t bi = 0; bi < numel; ++bi) CHECK(batch_offset(b, bi) == bi * got);
    } else {
      CHECK(!single);
    }
    // gather_offset walks batch, row, column like nested loops
    const int64_t rows = rnd(1, 3), cols = rnd(1, 3), rs = rnd(0, 5), cs = rnd(0, 5);
    int64_t e = 0;
    for (int64_t bi = 0; bi < numel; ++bi)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j, ++e)
          CHECK(gather_offset(b, rows, cols, rs, cs, e) == batch_offset(b, bi) + i * rs + j * cs);
  }
  // a bmm-like batch: [2, 3] with contiguous strides collapses; [2, 3] with a broadcast
  // inner dim does not
  BatchDims b;
  b.n = 2;
  b.sizes[0] = 2; b.sizes[1] = 3;
  b.strides[0] = 60; b.strides[1] = 20;
  int64_t s = 0;
  CHECK(single_batch_stride(b, &s) && s == 20);
  b.strides[1] = 0;
  CHECK(!single_batch_stride(b, &s));
  b.strides[0] = 0;
  CHECK(single_batch_stride(b, &s) && s == 0);
}

// Sums the column entries col2im_sources() visits (a functor: callable on host and device).
struct SumInto {
  const float* col;
  float* acc;
  __host__ __device__ void operator()(int64_t off) const { *acc += col[off]; }
};

// What cublasGemmStridedBatchedEx computes for a call (column-major), on host doubles; also
// checks the leading dimensions cuBLAS requires.
static void emulate(const CublasGemm& g, double alpha, const double* A, const double* B,
                    double beta, double* C) {
  auto mx = [](int64_t v) { return v > 1 ? v : 1; };
  CHECK(g.lda >= mx(g.ta ? g.k : g.m));
  CHECK(g.ldb >= mx(g.tb ? g.n : g.k));
  CHECK(g.ldc >= mx(g.m));
  for (int64_t i = 0; i < g.batch; ++i)
    for (int64_t r = 0; r < g.m; ++r)
      for (int64_t c = 0; c < g.n; ++c) {
        double acc = 0;
        for (int64_t p = 0; p < g.k; ++p) {
          const double a = g.ta ? A[i * g.sa + p + r * g.lda] : A[i * g.sa + r + p * g.lda];
          const double b = g.tb ? B[i * g.sb + c + p * g.ldb] : B[i * g.sb + p + c * g.ldb];
          acc += a * b;
        }
        double& out = C[i * g.sc + r + c * g.ldc];
        out = alpha * acc + (beta == 0.0 ? 0.0 : beta * out);
      }
}

static std::vector<double> random_values(int64_t n) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = u(rng);
  return v;
}

// matmul's GemmSpec with random operand layouts (row-major, transposed, padded, no unit
// stride, expanded) and batch strides (collapsing, broadcast, arbitrary): plan_gemm + the
// packing gather + the modelled cuBLAS call give the naive product.
static void test_gemm_plans() {
  for (int it = 0; it < 1500; ++it) {
    GemmSpec s;
    s.m = rnd(1, 4);
    s.n = rnd(1, 4);
    s.k = rnd(1, 4);
    s.alpha = double(rnd(-2, 2));
    s.beta = it % 3 == 0 ? 0.0 : 0.5;
    s.nbatch = int(rnd(0, 3));
    s.batch_numel = 1;
    for (int d = 0; d < s.nbatch; ++d) {
      s.batch_sizes[d] = rnd(2, 3);
      s.batch_numel *= s.batch_sizes[d];
    }
    int64_t extent[2];
    int64_t* rs[2] = {&s.a_rs, &s.b_rs};
    int64_t* cs[2] = {&s.a_cs, &s.b_cs};
    int64_t* bs[2] = {s.a_bs, s.b_bs};
    const int64_t rows[2] = {s.m, s.k}, cols[2] = {s.k, s.n};
    for (int o = 0; o < 2; ++o) {
      const int64_t r = rows[o], c = cols[o];
      switch (int(rnd(0, 4))) {
        case 0: *rs[o] = c; *cs[o] = 1; break;                 // row-major
        case 1: *rs[o] = 1; *cs[o] = r; break;                 // transposed
        case 2: *rs[o] = c + rnd(1, 3); *cs[o] = 1; break;     // padded rows
        case 3: *rs[o] = rnd(2, 3) * c * 2; *cs[o] = 2; break; // no unit stride
        default: *rs[o] = 0; *cs[o] = 1; break;                // rows expanded
      }
      const int64_t span = (r - 1) * *rs[o] + (c - 1) * *cs[o] + 1;
      int64_t acc = span + rnd(0, 2);
      int64_t top = 0;
      for (int d = s.nbatch - 1; d >= 0; --d) {
        const int kind = int(rnd(0, 2));
        bs[o][d] = kind == 0 ? acc : kind == 1 ? 0 : rnd(1, 30);
        acc *= s.batch_sizes[d];
        top += (s.batch_sizes[d] - 1) * bs[o][d];
      }
      extent[o] = top + span;
    }
    for (int d = 0; d < s.nbatch; ++d) s.c_bs[d] = 0;  // not used by the plan
    const std::vector<double> A = random_values(extent[0]), B = random_values(extent[1]);
    const int64_t cmat = s.m * s.n;
    std::vector<double> C = random_values(s.batch_numel * cmat), want = C;
    BatchDims ba = operand_batch(s, s.a_bs), bb = operand_batch(s, s.b_bs);
    for (int64_t bi = 0; bi < s.batch_numel; ++bi)
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          double acc = 0;
          for (int64_t p = 0; p < s.k; ++p)
            acc += A[size_t(batch_offset(ba, bi) + i * s.a_rs + p * s.a_cs)] *
                   B[size_t(batch_offset(bb, bi) + p * s.b_rs + j * s.b_cs)];
          double& w = want[size_t(bi * cmat + i * s.n + j)];
          w = s.alpha * acc + (s.beta == 0.0 ? 0.0 : s.beta * w);
        }
    const GemmPlan plan = plan_gemm(s);
    auto packed = [&](const std::vector<double>& src, const BatchDims& b, int64_t r, int64_t c,
                      int64_t rstride, int64_t cstride) {
      std::vector<double> out(size_t(s.batch_numel * r * c));
      for (int64_t e = 0; e < int64_t(out.size()); ++e)
        out[size_t(e)] = src[size_t(gather_offset(b, r, c, rstride, cstride, e))];
      return out;
    };
    const std::vector<double> pa =
        plan.pack_a ? packed(A, ba, s.m, s.k, s.a_rs, s.a_cs) : A;
    const std::vector<double> pb =
        plan.pack_b ? packed(B, bb, s.k, s.n, s.b_rs, s.b_cs) : B;
    emulate(plan.call, s.alpha, pb.data(), pa.data(), s.beta, C.data());
    for (size_t i = 0; i < C.size(); ++i) CHECK(std::fabs(C[i] - want[i]) < 1e-12);
    // operands cuBLAS can read in place are not copied
    const bool a_direct = gemm_operand(s.m, s.k, s.a_rs, s.a_cs).ok;
    if (!a_direct) CHECK(plan.pack_a);
    if (s.nbatch == 0 && a_direct) CHECK(!plan.pack_a);
  }
}

// The row-major helper (gemm_rm): random flags, padded leading dims and batch strides.
static void test_row_major_calls() {
  for (int it = 0; it < 800; ++it) {
    const bool ta = rnd(0, 1), tb = rnd(0, 1);
    const int64_t m = rnd(1, 5), n = rnd(1, 5), k = rnd(1, 5), batch = rnd(1, 3);
    // stored row-major: A is (ta ? k x m : m x k), B is (tb ? n x k : k x n)
    const int64_t lda = (ta ? m : k) + rnd(0, 2), ldb = (tb ? k : n) + rnd(0, 2);
    const int64_t ldc = n + rnd(0, 2);
    const int64_t sa = it % 4 == 0 ? 0 : (ta ? k : m) * lda + rnd(0, 3);
    const int64_t sb = it % 5 == 0 ? 0 : (tb ? n : k) * ldb + rnd(0, 3);
    const int64_t sc = m * ldc + rnd(0, 3);
    const std::vector<double> A = random_values(batch * ((ta ? k : m) * lda + sa + 1));
    const std::vector<double> B = random_values(batch * ((tb ? n : k) * ldb + sb + 1));
    std::vector<double> C = random_values(batch * sc + m * ldc), want = C;
    const double alpha = 1.5, beta = it % 2 ? 0.0 : -0.5;
    for (int64_t i = 0; i < batch; ++i)
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < n; ++c) {
          double acc = 0;
          for (int64_t p = 0; p < k; ++p) {
            const double a = ta ? A[size_t(i * sa + p * lda + r)] : A[size_t(i * sa + r * lda + p)];
            const double b = tb ? B[size_t(i * sb + c * ldb + p)] : B[size_t(i * sb + p * ldb + c)];
            acc += a * b;
          }
          double& w = want[size_t(i * sc + r * ldc + c)];
          w = alpha * acc + (beta == 0.0 ? 0.0 : beta * w);
        }
    emulate(row_major_call(ta, tb, m, n, k, lda, sa, ldb, sb, ldc, sc, batch), alpha, B.data(),
            A.data(), beta, C.data());
    for (size_t i = 0; i < C.size(); ++i) CHECK(std::fabs(C[i] - want[i]) < 1e-12);
  }
}

static Im2ColSpec random_spec() {
  Im2ColSpec s;
  s.dtype = DType::Float32;
  for (;;) {
    s.planes = rnd(1, 3);
    s.h = rnd(1, 9);
    s.w = rnd(1, 9);
    s.kh = rnd(1, 4);
    s.kw = rnd(1, 4);
    s.dh = rnd(1, 3);
    s.dw = rnd(1, 3);
    s.ph = rnd(0, 2);
    s.pw = rnd(0, 2);
    s.sh = rnd(1, 3);
    s.sw = rnd(1, 3);
    const int64_t sh = s.h + 2 * s.ph - s.dh * (s.kh - 1) - 1;
    const int64_t sw = s.w + 2 * s.pw - s.dw * (s.kw - 1) - 1;
    if (sh < 0 || sw < 0) continue;
    s.oh = sh / s.sh + 1;
    s.ow = sw / s.sw + 1;
    return s;
  }
}

static void test_im2col() {
  for (int it = 0; it < 400; ++it) {
    Im2ColSpec s = random_spec();
    const int64_t in_plane = s.h * s.w, out_plane = s.kh * s.kw * s.oh * s.ow;
    std::vector<float> img(size_t(s.planes * in_plane)), col(size_t(s.planes * out_plane));
    for (size_t i = 0; i < img.size(); ++i) img[i] = float(i + 1);
    Im2ColSpec one = s;
    one.planes = 1;
    for (int64_t p = 0; p < s.planes; ++p)
      cpu::im2col_plane(one, img.data() + p * in_plane, col.data() + p * out_plane);
    for (int64_t e = 0; e < int64_t(col.size()); ++e) {
      const int64_t src = im2col_source(s, e);
      CHECK(col[size_t(e)] == (src < 0 ? 0.0f : img[size_t(src)]));
    }
    // col2im: random column values; the gather must give the CPU's sums bit for bit
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& v : col) v = u(rng);
    std::vector<float> want(img.size()), got(img.size());
    for (int64_t p = 0; p < s.planes; ++p)
      cpu::col2im_plane(one, col.data() + p * out_plane, want.data() + p * in_plane);
    for (int64_t e = 0; e < int64_t(got.size()); ++e) {
      float acc = 0.0f;
      col2im_sources(s, e, SumInto{col.data(), &acc});
      got[size_t(e)] = acc;
    }
    CHECK(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0);
  }
}

// One unit (j = 1 of H = 2) of the forward as a function of its inputs; returns the loss
// dh . h_new + dc . c_new for fixed output gradients.
struct UnitInputs {
  double x[8], gh[8], bh[8], hprev[2], c[2];
};
static double unit_loss(RnnMode mode, const UnitInputs& in, double dh, double dc) {
  const int64_t H = 2, j = 1;
  UnitInputs u = in;
  double h[2] = {0, 0}, y[2] = {0, 0}, w[12] = {};
  rnn_forward_unit<double>(mode, H, j, u.x, u.gh, u.bh, u.hprev, u.c, h, y, w);
  return dh * h[j] + (mode == RnnMode::Lstm ? dc * u.c[j] : 0.0);
}

static void test_rnn_units() {
  const RnnMode modes[] = {RnnMode::Lstm, RnnMode::Gru, RnnMode::Tanh, RnnMode::Relu};
  std::uniform_real_distribution<double> u(-1.5, 1.5);
  for (RnnMode mode : modes) {
    const int64_t H = 2, j = 1;
    const int64_t G = mode == RnnMode::Lstm ? 4 : mode == RnnMode::Gru ? 3 : 1;
    for (int it = 0; it < 50; ++it) {
      UnitInputs in;
      for (double* a : {in.x, in.gh, in.bh})
        for (int i = 0; i < 8; ++i) a[i] = u(rng);
      for (int i = 0; i < 2; ++i) {
        in.hprev[i] = u(rng);
        in.c[i] = u(rng);
      }
      const double dh_carried = u(rng), dy = u(rng), dc_out = u(rng);
      const double dh = dh_carried + dy;
      // the analytic gradients
      UnitInputs f = in;
      double h[2], y[2], w[12] = {};
      rnn_forward_unit<double>(mode, H, j, f.x, f.gh, f.bh, f.hprev, f.c, h, y, w);
      CHECK(h[j] == y[j]);
      double dhr[2] = {0, dh_carried}, dyr[2] = {0, dy}, dc[2] = {0, dc_out};
      double dx[8] = {}, dg[8] = {}, dd[2] = {};
      rnn_backward_unit<double>(mode, H, j, w, in.hprev, dhr, dyr, dc, dx, dg, dd);
      // finite differences of the loss in every input the unit reads
      const double eps = 1e-6;
      auto fd = [&](double* slot, const UnitInputs& base) {
        UnitInputs p = base, m = base;
        const size_t off = size_t(reinterpret_cast<char*>(slot) -
                                  reinterpret_cast<const char*>(&base));
        *reinterpret_cast<double*>(reinterpret_cast<char*>(&p) + off) += eps;
        *reinterpret_cast<double*>(reinterpret_cast<char*>(&m) + off) -= eps;
        return (unit_loss(mode, p, dh, dc_out) - unit_loss(mode, m, dh, dc_out)) / (2 * eps);
      };
      UnitInputs base = in;
      for (int64_t g = 0; g < G; ++g) {
        const double want_x = fd(&base.x[g * H + j], base);
        CHECK(std::fabs(dx[g * H + j] - want_x) < 1e-6);
        const double want_g = fd(&base.gh[g * H + j], base);
        const double got_g = mode == RnnMode::Gru ? dg[g * H + j] : dx[g * H + j];
        CHECK(std::fabs(got_g - want_g) < 1e-6);
        // b_hh enters like gh: its gradient is the hidden-side one
        CHECK(std::fabs(fd(&base.bh[g * H + j], base) - want_g) < 1e-6);
      }
      CHECK(std::fabs(dd[j] - fd(&base.hprev[j], base)) < 1e-6);
      if (mode == RnnMode::Lstm) CHECK(std::fabs(dc[j] - fd(&base.c[j], base)) < 1e-6);
    }
  }
}

int main() {
  test_operands();
  test_batch();
  test_gemm_plans();
  test_row_major_calls();
  test_im2col();
  test_rnn_units();
  if (failures) {
    std::printf("blas_math_test: %d failure(s)\n", failures);
    return 1;
  }
  std::printf("blas_math_test: ok\n");
  return 0;
}
