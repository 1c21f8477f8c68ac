// Matrix products (see matmul.h). Everything funnels into batched_mm (same batch shape on
// both sides, any strides, 0 for broadcast dims) or addmm; matmul's broadcasting is done with
// expand views, whose backward sums the gradient over the broadcast dims.
#include "ops/matmul.h"

#include "autograd/function.h"
#include "ops/activation.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/iter.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

KernelSlot<GemmKernel> gemm_kernel{"gemm"};

namespace {

std::string mat_str(const Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "x" : "") + std::to_string(t.sizes()[i]);
  return s;
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  RV_CHECK(a.dtype() == b.dtype(), op, ": expected m1 and m2 to have the same dtype, but got: ",
           dtype_name(a.dtype()), " != ", dtype_name(b.dtype()));
  RV_CHECK_NOT_IMPLEMENTED(a.dtype() != DType::Bool, op, ": not implemented for 'Bool'");
}

// Whether c (C's initial value in addmm) is one row broadcast over the product's rows, which
// the CPU kernel then reads in place (GemmSpec::c_row) instead of a copy in the output.
bool is_bias_row(const Tensor& c, DType ct, int64_t n) {
  if (c.dtype() != ct || !c.device().is_cpu()) return false;
  if (c.dim() == 1) return c.sizes()[0] == n;
  return c.dim() == 2 && c.sizes()[0] == 1 && c.sizes()[1] == n;
}

// C = alpha * A @ B + beta * C over matching batch dims; no autograd. b_t: b is given as
// [..., n, k] and read as its transpose in place. c_init (broadcastable to the output's shape)
// is used when beta != 0.
Tensor gemm_forward(const Tensor& a, const Tensor& b, bool b_t, const Tensor* c_init,
                    const Scalar& alpha, const Scalar& beta, const char* name) {
  check_same_device(name, {&a, &b});
  const int64_t nd = a.dim();
  const int64_t m = a.sizes()[nd - 2], k = a.sizes()[nd - 1];
  const int64_t n = b.sizes()[b_t ? nd - 2 : nd - 1];
  Shape out_shape(a.sizes().begin(), a.sizes().end() - 2);
  out_shape.push_back(m);
  out_shape.push_back(n);
  const DType dt = a.dtype();
  // float16 / bfloat16: the CPU multiplies in float32 copies; cuBLAS takes them as they are
  // (float32 accumulation, tensor cores) and rounds its result once, as the copy would.
  const DType ct = is_reduced_float(dt) && a.device().is_cpu() ? DType::Float32 : dt;
  const bool use_c = c_init != nullptr && beta.to_double() != 0.0;
  const bool c_row = use_c && is_bias_row(*c_init, ct, n);
  Tensor out = empty(out_shape, ct, a.device());
  if (use_c && !c_row) copy_(out, expand(detach(*c_init), out_shape));
  if (out.numel() > 0) {
    Tensor ac = a.dtype() == ct ? a : to_dtype(detach(a), ct);
    Tensor bc = b.dtype() == ct ? b : to_dtype(detach(b), ct);
    GemmSpec s;
    s.dtype = ct;
    s.m = m;
    s.n = n;
    s.k = k;
    s.a = static_cast<const char*>(ac.data_ptr());
    s.a_rs = ac.strides()[nd - 2];
    s.a_cs = ac.strides()[nd - 1];
    s.b = static_cast<const char*>(bc.data_ptr());
    s.b_rs = bc.strides()[b_t ? nd - 1 : nd - 2];
    s.b_cs = bc.strides()[b_t ? nd - 2 : nd - 1];
    s.c = static_cast<char*>(out.data_ptr());
    s.alpha = alpha.to_double();
    s.beta = use_c ? beta.to_double() : 0.0;
    if (c_row) {
      s.c_row = static_cast<const char*>(c_init->data_ptr());
      s.c_row_stride = c_init->strides()[c_init->dim() - 1];
    }
    for (int64_t i = 0; i < nd - 2; ++i) {
      if (out_shape[i] == 1) continue;
      s.batch_sizes[s.nbatch] = out_shape[i];
      s.a_bs[s.nbatch] = ac.strides()[i];
      s.b_bs[s.nbatch] = bc.strides()[i];
      s.c_bs[s.nbatch++] = out.strides()[i];
      s.batch_numel *= out_shape[i];
    }
    gemm_kernel.get(a.device(), name)(s);
  }
  return ct != dt ? to_dtype(out, dt) : out;
}

Tensor transpose_last(const Tensor& t) { return transpose(t, -1, -2); }

Tensor batched_mm(const Tensor& a, const Tensor& b, const char* name);
bool is_transposed_contiguous(const Tensor& t);
Tensor grad_of_right(const Tensor& g, const Tensor& a, bool b_transposed, const char* name);

// The product of [..., m, k] and [..., k, n] with identical batch dims, with autograd.
Tensor batched_mm(const Tensor& a, const Tensor& b, const char* name) {
  Tensor out = gemm_forward(a, b, false, nullptr, Scalar(int64_t(1)), Scalar(int64_t(0)), name);
  if (autograd::needs_grad({a, b})) {
    bool na = a.requires_grad(), nb = b.requires_grad();
    bool b_t = a.dim() == 2 && is_transposed_contiguous(b);
    autograd::record(a.dim() == 2 ? "MmBackward0" : "BmmBackward0", {a, b}, {&out},
                     {nb ? a : Tensor(), na ? b : Tensor()}, {}, [name, b_t](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       TensorList r(2);
                       if (c.needs(0)) r[0] = batched_mm(g, transpose_last(c.saved(1)), name);
                       if (c.needs(1)) r[1] = grad_of_right(g, c.saved(0), b_t, name);
                       return r;
                     });
  }
  return out;
}

// Whether t is the transpose of a contiguous matrix (a Linear weight W used as W.t()).
bool is_transposed_contiguous(const Tensor& t) {
  return t.dim() == 2 && !t.is_contiguous() && t.strides()[0] == 1 &&
         t.strides()[1] == t.sizes()[0];
}

// The gradient of b in a @ b. When b is a transposed contiguous matrix it is computed as
// (g^T a)^T, so that it comes back to the contiguous matrix b came from without a copy.
Tensor grad_of_right(const Tensor& g, const Tensor& a, bool b_transposed, const char* name) {
  if (b_transposed) return transpose_last(batched_mm(transpose_last(g), a, name));
  return batched_mm(transpose_last(a), g, name);
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  RV_CHECK(a.dim() == 2, "mm: self must be a matrix, but got a ", a.dim(), "-D tensor");
  RV_CHECK(b.dim() == 2, "mm: mat2 must be a matrix, but got a ", b.dim(), "-D tensor");
  RV_CHECK(a.sizes()[1] == b.sizes()[0], "mm: mat1 and mat2 shapes cannot be multiplied (",
           mat_str(a), " and ", mat_str(b), ")");
  check_same_dtype(a, b, "mm");
  return batched_mm(a, b, "mm");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  RV_CHECK(a.dim() == 3, "bmm: batch1 must be a 3D tensor, but got a ", a.dim(), "-D tensor");
  RV_CHECK(b.dim() == 3, "bmm: batch2 must be a 3D tensor, but got a ", b.dim(), "-D tensor");
  RV_CHECK(a.sizes()[0] == b.sizes()[0] && a.sizes()[2] == b.sizes()[1],
           "bmm: batch1 and batch2 shapes cannot be multiplied (", mat_str(a), " and ",
           mat_str(b), "): expected batch2 of size [", a.sizes()[0], ", ", a.sizes()[2],
           ", *]");
  check_same_dtype(a, b, "bmm");
  return batched_mm(a, b, "bmm");
}

Tensor mv(const Tensor& a, const Tensor& v) {
  RV_CHECK(a.dim() == 2 && v.dim() == 1, "mv: expected a matrix and a vector, but got ",
           a.dim(), "-D and ", v.dim(), "-D tensors");
  RV_CHECK(a.sizes()[1] == v.sizes()[0], "mv: size mismatch, got input (", mat_str(a),
           ") and vector (", mat_str(v), ")");
  check_same_dtype(a, v, "mv");
  return reshape(batched_mm(a, unsqueeze(v, 1), "mv"), {a.sizes()[0]});
}

Tensor dot(const Tensor& a, const Tensor& b) {
  RV_CHECK(a.dim() == 1 && b.dim() == 1, "dot: 1D tensors expected, but got ", a.dim(), "D and ",
           b.dim(), "D tensors");
  RV_CHECK(a.sizes()[0] == b.sizes()[0], "dot: inconsistent tensor size, expected tensor [",
           a.sizes()[0], "] and src [", b.sizes()[0],
           "] to have the same number of elements, but got ", a.sizes()[0], " and ",
           b.sizes()[0], " elements respectively");
  check_same_dtype(a, b, "dot");
  return reshape(batched_mm(unsqueeze(a, 0), unsqueeze(b, 1), "dot"), {});
}

Tensor outer(const Tensor& a, const Tensor& b) {
  RV_CHECK(a.dim() == 1 && b.dim() == 1, "outer: 1D tensors expected, but got ", a.dim(),
           "D and ", b.dim(), "D tensors");
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  RV_CHECK(a.dim() >= 1 && b.dim() >= 1,
           "matmul: both arguments to matmul need to be at least 1D, but they are ", a.dim(),
           "D and ", b.dim(), "D");
  check_same_dtype(a, b, "matmul");
  const int64_t da = a.dim(), db = b.dim();
  if (da == 1 && db == 1) return dot(a, b);
  if (da == 2 && db == 2) return mm(a, b);
  if (da == 2 && db == 1) return mv(a, b);
  const int64_t ka = a.sizes()[da - 1];
  const int64_t kb = db == 1 ? b.sizes()[0] : b.sizes()[db - 2];
  RV_CHECK(ka == kb, "matmul: mat1 and mat2 shapes cannot be multiplied (", shape_str(a.sizes()),
           " and ", shape_str(b.sizes()), "): inner sizes ", ka, " and ", kb, " differ");
  if (da == 1 && db == 2) return reshape(mm(unsqueeze(a, 0), b), {b.sizes()[1]});
  if (da >= 3 && db <= 2) {
    // Fold the batch dims of a into its rows: one GEMM, and b's gradient needs no batch sum.
    Shape out_shape(a.sizes().begin(), a.sizes().end() - 1);
    int64_t rows = 1;
    for (int64_t i = 0; i < da - 1; ++i) rows *= a.sizes()[i];
    Tensor a2 = reshape(a, {rows, ka});
    Tensor b2 = db == 1 ? unsqueeze(b, 1) : b;
    if (db == 2) out_shape.push_back(b.sizes()[1]);
    return reshape(batched_mm(a2, b2, "matmul"), out_shape);
  }
  Tensor a1 = da == 1 ? unsqueeze(a, 0) : a;
  Tensor b1 = db == 1 ? unsqueeze(b, 1) : b;
  Shape ba(a1.sizes().begin(), a1.sizes().end() - 2);
  Shape bb(b1.sizes().begin(), b1.sizes().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  const int64_t m = a1.sizes()[a1.dim() - 2], n = b1.sizes()[b1.dim() - 1];
  Shape sa = batch, sb = batch, out_shape = batch;
  sa.push_back(m);
  sa.push_back(ka);
  sb.push_back(ka);
  sb.push_back(n);
  if (da > 1) out_shape.push_back(m);
  if (db > 1) out_shape.push_back(n);
  Tensor ea = a1.sizes() == sa ? a1 : expand(a1, sa);
  Tensor eb = b1.sizes() == sb ? b1 : expand(b1, sb);
  return reshape(batched_mm(ea, eb, "matmul"), out_shape);
}

Tensor addmm(const Tensor& input, const Tensor& m1, const Tensor& m2, const Scalar& beta,
             const Scalar& alpha) {
  RV_CHECK(m1.dim() == 2, "addmm: mat1 must be a matrix, but got a ", m1.dim(), "-D tensor");
  RV_CHECK(m2.dim() == 2, "addmm: mat2 must be a matrix, but got a ", m2.dim(), "-D tensor");
  RV_CHECK(m1.sizes()[1] == m2.sizes()[0], "addmm: mat1 and mat2 shapes cannot be multiplied (",
           mat_str(m1), " and ", mat_str(m2), ")");
  check_same_dtype(m1, m2, "addmm");
  RV_CHECK(input.dtype() == m1.dtype(), "addmm: expected input and mat1 to have the same dtype,",
           " but got: ", dtype_name(input.dtype()), " != ", dtype_name(m1.dtype()));
  check_same_device("addmm", {&input, &m1, &m2});
  Shape os = {m1.sizes()[0], m2.sizes()[1]};
  RV_CHECK(input.dim() <= 2 && broadcast_shapes(input.sizes(), os, "addmm") == os,
           "addmm: the input of shape ", shape_str(input.sizes()),
           " cannot be broadcast to the product's shape ", shape_str(os));
  Tensor out = gemm_forward(m1, m2, false, &input, alpha, beta, "addmm");
  if (autograd::needs_grad({input, m1, m2})) {
    Shape in_shape = input.sizes();
    bool n1 = m1.requires_grad(), n2 = m2.requires_grad();
    bool m2_t = is_transposed_contiguous(m2);
    autograd::record("AddmmBackward0", {input, m1, m2}, {&out},
                     {n2 ? m1 : Tensor(), n1 ? m2 : Tensor()}, {},
                     [in_shape, beta, alpha, m2_t](BackwardContext& c) {
                       const Tensor& g = c.grad();
                       bool unit = alpha.is_integral() && alpha.to_int() == 1;
                       bool unit_beta = beta.is_integral() && beta.to_int() == 1;
                       TensorList r(3);
                       if (c.needs(0)) r[0] = sum_to_size(unit_beta ? g : mul(g, beta), in_shape);
                       if (c.needs(1)) {
                         r[1] = batched_mm(g, transpose_last(c.saved(1)), "addmm");
                         if (!unit) r[1] = mul(r[1], alpha);
                       }
                       if (c.needs(2)) {
                         r[2] = grad_of_right(g, c.saved(0), m2_t, "addmm");
                         if (!unit) r[2] = mul(r[2], alpha);
                       }
                       return r;
                     });
  }
  return out;
}

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  RV_CHECK(weight.dim() == 1 || weight.dim() == 2, "linear: weight must be 1-D or 2-D, got shape ",
           shape_str(weight.sizes()));
  RV_CHECK(input.dim() > 0 && input.sizes().back() == weight.sizes().back(),
           "linear: mat1 and mat2 shapes cannot be multiplied (input ", shape_str(input.sizes()),
           " and weight.T ", shape_str(t(weight).sizes()), ")");
  if (input.dim() >= 2 && weight.dim() == 2 && bias.defined()) {
    // Without autograd: one GEMM reading the weight transposed in place with the bias as C's
    // initial rows (no transposed view, no bias copy).
    if (input.dim() == 2 && bias.dim() == 1 && bias.sizes()[0] == weight.sizes()[0] &&
        input.dtype() == weight.dtype() &&
        bias.dtype() == input.dtype() && input.device() == bias.device() &&
        !autograd::needs_grad({input, weight, bias})) {
      check_same_dtype(input, weight, "addmm");
      return gemm_forward(input, weight, true, &bias, Scalar(int64_t(1)), Scalar(int64_t(1)),
                          "addmm");
    }
    if (input.dim() == 2) return addmm(bias, input, t(weight), Scalar(int64_t(1)),
                                       Scalar(int64_t(1)));
    Shape lead(input.sizes().begin(), input.sizes().end() - 1);
    Tensor out = addmm(bias, reshape(input, {-1, input.sizes().back()}), t(weight),
                       Scalar(int64_t(1)), Scalar(int64_t(1)));
    lead.push_back(weight.sizes()[0]);
    return reshape(out, lead);
  }
  Tensor out = matmul(input, t(weight));
  return bias.defined() ? add(out, bias) : out;
}

Tensor linear_relu_no_grad(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  // the conditions of linear's own no-autograd GEMM path, whose output is a fresh tensor
  if (input.dim() != 2 || weight.dim() != 2 || !bias.defined() || bias.dim() != 1 ||
      input.sizes()[1] != weight.sizes()[1] || bias.sizes()[0] != weight.sizes()[0] ||
      !is_floating(input.dtype()) || input.dtype() != weight.dtype() ||
      bias.dtype() != input.dtype() || input.device() != weight.device() ||
      input.device() != bias.device() || autograd::needs_grad({input, weight, bias}))
    return Tensor();
  Tensor out = linear(input, weight, bias);
  relu_(out);
  return out;
}

}  // namespace ranvier
