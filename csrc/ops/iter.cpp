// LoopSpec construction and promotion helpers (see iter.h).
#include "ops/iter.h"

#include "ops/copy.h"

namespace ranvier {

LoopSpec make_loop(const Tensor& out, std::initializer_list<const Tensor*> inputs) {
  LoopSpec s;
  s.nops = int(1 + inputs.size());
  RV_INTERNAL_ASSERT(s.nops <= kMaxOperands);
  const Shape& shape = out.sizes();
  const int nd = int(shape.size());
  s.numel = out.numel();
  // Per-operand strides aligned to out's dims (0 where broadcast).
  int64_t st[kMaxOperands][kMaxDims];
  const Tensor* ops[kMaxOperands];
  ops[0] = &out;
  int k = 1;
  for (const Tensor* t : inputs) ops[k++] = t;
  for (k = 0; k < s.nops; ++k) {
    const Tensor& t = *ops[k];
    s.data[k] = static_cast<char*>(t.data_ptr());
    s.dtypes[k] = t.dtype();
    const int tnd = int(t.dim());
    for (int d = 0; d < nd; ++d) {
      int td = d - (nd - tnd);
      st[k][d] = (td < 0 || t.sizes()[td] == 1) ? 0 : t.strides()[td];
    }
  }
  // Drop size-1 dims and merge dims that are contiguous for every operand.
  int m = 0;
  for (int d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    if (m > 0) {
      bool mergeable = true;
      for (k = 0; k < s.nops; ++k)
        if (s.strides[k][m - 1] != st[k][d] * shape[d]) mergeable = false;
      if (mergeable) {
        s.sizes[m - 1] *= shape[d];
        for (k = 0; k < s.nops; ++k) s.strides[k][m - 1] = st[k][d];
        continue;
      }
    }
    s.sizes[m] = shape[d];
    for (k = 0; k < s.nops; ++k) s.strides[k][m] = st[k][d];
    ++m;
  }
  if (m == 0) {
    s.sizes[0] = 1;
    for (k = 0; k < s.nops; ++k) s.strides[k][0] = 0;
    m = 1;
  }
  s.ndim = m;
  return s;
}

namespace {
DType combine_categories(int higher_set, DType higher, int lower_set, DType lower) {
  if (!higher_set) return lower;
  if (is_floating(higher) || !lower_set) return higher;
  if (higher == DType::Bool || is_floating(lower)) return promote_types(higher, lower);
  return higher;
}
}  // namespace

DType result_type(std::initializer_list<const Tensor*> tensors) {
  int has_dim = 0, has_zero = 0, has_wrapped = 0;
  DType dim_t = DType::Bool, zero_t = DType::Bool, wrapped_t = DType::Bool;
  for (const Tensor* t : tensors) {
    if (!t || !t->defined()) continue;
    DType d = t->dtype();
    if (t->impl()->is_wrapped_number()) {
      if (is_floating(d)) d = DType::Float32;
      wrapped_t = has_wrapped ? promote_types(wrapped_t, d) : d;
      has_wrapped = 1;
    } else if (t->dim() == 0) {
      zero_t = has_zero ? promote_types(zero_t, d) : d;
      has_zero = 1;
    } else {
      dim_t = has_dim ? promote_types(dim_t, d) : d;
      has_dim = 1;
    }
  }
  DType low = combine_categories(has_zero, zero_t, has_wrapped, wrapped_t);
  int low_set = has_zero || has_wrapped;
  return combine_categories(has_dim, dim_t, low_set, low);
}

bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != DType::Bool && to == DType::Bool) return false;
  return true;
}

void check_same_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t || !t->defined()) continue;
    // A 0-d CPU tensor may join tensors of any device (PyTorch's rule), in any position.
    bool t_cpu_scalar = t->dim() == 0 && t->device().is_cpu();
    if (!first || (first->dim() == 0 && first->device().is_cpu() && !t_cpu_scalar)) {
      first = t;
      continue;
    }
    if (t->device() != first->device() && !t_cpu_scalar)
      throw_error(ErrorKind::Runtime,
                  str_cat(op, ": expected all tensors to be on the same device, but found at "
                              "least two devices, ",
                          first->device().str(), " and ", t->device().str(), "!"));
  }
}

namespace {
bool g_converts_16bit[kNumDeviceTypes] = {};
}  // namespace

bool converts_16bit(Device d) { return g_converts_16bit[int(d.type)]; }
void set_converts_16bit(DeviceType t, bool on) { g_converts_16bit[int(t)] = on; }

bool kernel_takes(DType t, DType ct, Device dev) {
  return t == ct || (ct == DType::Float32 && is_reduced_float(t) && converts_16bit(dev));
}

Tensor kernel_operand(const Tensor& t, DType ct, Device dev) {
  return kernel_takes(t.dtype(), ct, dev) ? t : to_dtype(detach(t), ct);
}

DType kernel_output_dtype(DType rt, DType ct, Device dev) {
  return ct == DType::Float32 && is_reduced_float(rt) && converts_16bit(dev) ? rt : ct;
}

bool overlaps_differently(const Tensor& written, const Tensor& input) {
  if (written.impl()->storage() != input.impl()->storage()) return false;
  return !(written.storage_offset() == input.storage_offset() &&
           written.sizes() == input.sizes() && written.strides() == input.strides());
}

}  // namespace ranvier
