// tril/triu, flip, roll, repeat, tile, pad, one_hot (see misc_shape.h).
#include "ops/misc_shape.h"

#include <algorithm>

#include "autograd/function.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/indexing.h"
#include "ops/join.h"
#include "ops/shape.h"

namespace ranvier {

using autograd::BackwardContext;
using autograd::TensorList;

namespace {

// The [rows, cols] bool mask of elements strictly above (upper) / below the k-th diagonal.
// Built on the host, then moved to dev.
Tensor diagonal_mask(int64_t rows, int64_t cols, int64_t k, bool above, Device dev) {
  Tensor m = empty({rows, cols}, DType::Bool, Device());
  bool* p = m.data<bool>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) p[i * cols + j] = above ? (j - i > k) : (j - i < k);
  return to_device(m, dev);
}

// A 1-D int64 tensor from host values.
Tensor long_tensor(const std::vector<int64_t>& v, Device dev) {
  Tensor t = empty({int64_t(v.size())}, DType::Int64, Device());
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return to_device(t, dev);
}

}  // namespace

Tensor tril(const Tensor& t, int64_t diagonal) {
  RV_CHECK(t.dim() >= 2, "tril: input tensor must have at least 2 dimensions (got shape ",
           shape_str(t.sizes()), ")");
  return masked_fill(t, diagonal_mask(t.size(-2), t.size(-1), diagonal, true, t.device()),
                     Scalar(int64_t(0)));
}

Tensor triu(const Tensor& t, int64_t diagonal) {
  RV_CHECK(t.dim() >= 2, "triu: input tensor must have at least 2 dimensions (got shape ",
           shape_str(t.sizes()), ")");
  return masked_fill(t, diagonal_mask(t.size(-2), t.size(-1), diagonal, false, t.device()),
                     Scalar(int64_t(0)));
}

Tensor flip(const Tensor& t, const std::vector<int64_t>& dims) {
  std::vector<bool> seen(size_t(std::max<int64_t>(t.dim(), 1)), false);
  std::vector<int64_t> wrapped;
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, t.dim(), "flip");
    RV_CHECK(!seen[w], "flip: dim ", w, " appears multiple times in the list of dims");
    seen[w] = true;
    if (t.dim() > 0) wrapped.push_back(w);
  }
  Tensor out;
  if (t.device().is_cpu() && !wrapped.empty() && t.dim() > 0 && t.numel() > 0) {
    // One copy out of a view whose flipped dims run backwards (negative strides, starting at
    // their last element); an index_select per dim cost a gather pass each.
    Shape st = t.strides();
    int64_t off = t.storage_offset();
    for (int64_t d : wrapped) {
      if (t.sizes()[d] < 2) continue;
      off += (t.sizes()[d] - 1) * st[d];
      st[d] = -st[d];
    }
    Tensor rev(std::make_shared<TensorImpl>(t.impl()->storage(), t.sizes(), st, off, t.dtype()));
    out = contiguous_clone(rev);
  } else {
    autograd::NoGradGuard ng;
    out = detach(t);
    for (int64_t d : wrapped) {
      int64_t n = t.sizes()[d];
      std::vector<int64_t> rev(n);
      for (int64_t i = 0; i < n; ++i) rev[i] = n - 1 - i;
      out = index_select(out, d, long_tensor(rev, t.device()));
    }
    if (wrapped.empty() || t.dim() == 0) out = contiguous_clone(out);
  }
  if (autograd::needs_grad({t})) {
    autograd::record("FlipBackward0", {t}, {&out}, {}, {}, [wrapped](BackwardContext& c) {
      return TensorList{flip(c.grad(), wrapped)};
    });
  }
  return out;
}

Tensor roll(const Tensor& t, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  RV_CHECK(!shifts.empty(), "roll: `shifts` required");
  if (dims.empty()) {
    RV_CHECK(shifts.size() == 1, "roll: shifts and dimensions must align. shifts: ",
             shifts.size(), ", dims: 0");
    return reshape(roll(reshape(t, {-1}), shifts, {0}), t.sizes());
  }
  RV_CHECK(shifts.size() == dims.size(), "roll: shifts and dimensions must align. shifts: ",
           shifts.size(), ", dims: ", dims.size());
  if (t.dim() == 0) {
    for (int64_t d : dims) wrap_dim(d, 0, "roll");
    return clone(t);
  }
  Tensor out = t;
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], t.dim(), "roll");
    int64_t n = t.sizes()[d];
    if (n == 0) continue;
    int64_t s = ((shifts[i] % n) + n) % n;
    if (s == 0) continue;
    out = cat({slice(out, d, n - s, n, 1), slice(out, d, 0, n - s, 1)}, d);
  }
  return out.is_same(t) ? clone(t) : out;
}

Tensor repeat(const Tensor& t, const Shape& repeats) {
  RV_CHECK(int64_t(repeats.size()) >= t.dim(), "Number of dimensions of repeat dims can not be "
           "smaller than number of dimensions of tensor (repeat dims ", shape_str(repeats),
           ", tensor shape ", shape_str(t.sizes()), ")");
  for (int64_t r : repeats)
    RV_CHECK(r >= 0, "Trying to create tensor with negative dimension ", r, ": ",
             shape_str(repeats));
  int64_t lead = int64_t(repeats.size()) - t.dim();
  Shape padded(size_t(lead), 1);
  padded.insert(padded.end(), t.sizes().begin(), t.sizes().end());
  // [r0, s0, r1, s1, ...] broadcast view, then merged into [r0*s0, r1*s1, ...].
  Shape inter, expanded, final_sizes;
  for (size_t i = 0; i < repeats.size(); ++i) {
    inter.push_back(1);
    inter.push_back(padded[i]);
    expanded.push_back(repeats[i]);
    expanded.push_back(padded[i]);
    final_sizes.push_back(repeats[i] * padded[i]);
  }
  Tensor x = reshape(t, inter);
  x = expand(x, expanded);
  return reshape(contiguous(x), final_sizes);
}

Tensor tile(const Tensor& t, const Shape& reps) {
  Shape r = reps;
  while (int64_t(r.size()) < t.dim()) r.insert(r.begin(), 1);
  return repeat(t, r);
}

namespace {

Tensor constant_pad(const Tensor& t, const std::vector<int64_t>& pad, const Scalar& value) {
  int64_t npairs = int64_t(pad.size()) / 2;
  Shape out_sizes = t.sizes();
  for (int64_t i = 0; i < npairs; ++i) {
    int64_t d = t.dim() - 1 - i;
    int64_t ns = out_sizes[d] + pad[2 * i] + pad[2 * i + 1];
    RV_CHECK(ns >= 0, "pad: the input size ", t.sizes()[d], " plus negative padding ",
             pad[2 * i], " and ", pad[2 * i + 1], " resulted in a negative output size, which "
             "is invalid. Check dimension ", d, " of your input of shape ", shape_str(t.sizes()));
    out_sizes[d] = ns;
  }
  Tensor out = full(out_sizes, value, t.dtype(), t.device());
  // The part of the input that survives (negative pads crop) and where it lands in out.
  auto region = [&](const Tensor& x, bool in_input) {
    Tensor r = x;
    for (int64_t i = 0; i < npairs; ++i) {
      int64_t d = t.dim() - 1 - i;
      int64_t l = pad[2 * i], rr = pad[2 * i + 1], n = t.sizes()[d];
      int64_t start = in_input ? std::max<int64_t>(-l, 0) : std::max<int64_t>(l, 0);
      int64_t len = n - std::max<int64_t>(-l, 0) - std::max<int64_t>(-rr, 0);
      len = std::max<int64_t>(len, 0);
      r = slice(r, d, start, start + len, 1);
    }
    return r;
  };
  {
    autograd::NoGradGuard ng;
    Tensor dst = region(out, false);
    copy_(dst, region(detach(t), true));
  }
  if (autograd::needs_grad({t})) {
    Shape in_sizes = t.sizes();
    std::vector<int64_t> neg;
    for (int64_t p : pad) neg.push_back(-p);
    autograd::record("ConstantPadNdBackward0", {t}, {&out}, {}, {}, [neg](BackwardContext& c) {
      return TensorList{ranvier::pad(c.grad(), neg, "constant", Scalar(0.0))};
    });
  }
  return out;
}

}  // namespace

Tensor pad(const Tensor& t, const std::vector<int64_t>& p, const std::string& mode,
           const Scalar& value) {
  RV_CHECK(p.size() % 2 == 0, "pad: Padding length must be divisible by 2 (got ", p.size(), ")");
  int64_t npairs = int64_t(p.size()) / 2;
  RV_CHECK(npairs <= t.dim(), "pad: Padding length should be less than or equal to two times the "
           "input dimension but got padding length ", p.size(), " and input of dimension ",
           t.dim());
  if (mode == "constant") return constant_pad(t, p, value);
  RV_CHECK_NOT_IMPLEMENTED(mode == "reflect" || mode == "replicate" || mode == "circular",
                           "pad: unsupported padding mode '", mode, "' (expected constant, "
                           "reflect, replicate or circular)");
  RV_CHECK(t.dim() >= npairs + 1 && npairs >= 1 && npairs <= 3, "pad: ", mode, " padding of ",
           npairs, " dims expects a ", npairs + 1, "D or ", npairs + 2,
           "D input (with batch/channel dims), but got input of shape ", shape_str(t.sizes()));
  Tensor out = t;
  for (int64_t i = 0; i < npairs; ++i) {
    int64_t d = t.dim() - 1 - i;
    int64_t l = p[2 * i], r = p[2 * i + 1], n = t.sizes()[d];
    RV_CHECK((l >= 0 && r >= 0) || mode == "circular", "pad: negative padding is only supported "
             "in constant and circular mode (got ", l, ", ", r, " for dim ", d, ")");
    if (mode == "reflect")
      RV_CHECK(l < n && r < n, "pad: Padding size should be less than the corresponding input "
               "dimension, but got: padding (", l, ", ", r, ") at dimension ", d,
               " of input ", shape_str(t.sizes()));
    if (mode == "replicate")
      RV_CHECK(n > 0 || (l == 0 && r == 0), "pad: replicate padding of an empty dimension ", d);
    if (mode == "circular")
      RV_CHECK(l <= n && r <= n, "pad: Padding value causes wrapping around more than once "
               "(padding (", l, ", ", r, ") at dimension ", d, " of size ", n, ")");
    std::vector<int64_t> src;
    for (int64_t j = -l; j < n + r; ++j) {
      int64_t k = j;
      if (mode == "reflect") {
        int64_t period = 2 * (n - 1);
        if (period == 0) k = 0;
        else {
          k = ((j % period) + period) % period;
          if (k >= n) k = period - k;
        }
      } else if (mode == "replicate") {
        k = std::min(std::max<int64_t>(j, 0), n - 1);
      } else {
        k = ((j % n) + n) % n;
      }
      src.push_back(k);
    }
    out = index_select(out, d, long_tensor(src, t.device()));
  }
  return out;
}

Tensor one_hot(const Tensor& t, int64_t num_classes) {
  RV_CHECK(t.dtype() == DType::Int64, "one_hot is only applicable to index tensor of type "
           "int64 (got ", dtype_name(t.dtype()), ")");
  Tensor c = contiguous_clone(to_device(detach(t), Device()));  // the classes, on the host
  const int64_t* p = c.data<int64_t>();
  int64_t mx = -1;
  for (int64_t i = 0; i < c.numel(); ++i) {
    RV_CHECK(p[i] >= 0, "one_hot: Class values must be non-negative (got ", p[i], ")");
    mx = std::max(mx, p[i]);
  }
  if (num_classes == -1) {
    RV_CHECK(c.numel() > 0, "one_hot: Can not infer total number of classes from empty tensor.");
    num_classes = mx + 1;
  } else {
    RV_CHECK(num_classes > mx, "one_hot: Class values must be smaller than num_classes (got ",
             mx, " with num_classes=", num_classes, ")");
  }
  Shape s = t.sizes();
  s.push_back(num_classes);
  Tensor out = zeros(s, DType::Int64, t.device());
  if (c.numel() > 0 && num_classes > 0)
    scatter_(out, -1, unsqueeze(detach(t), -1), Scalar(int64_t(1)));
  return out;
}

}  // namespace ranvier
