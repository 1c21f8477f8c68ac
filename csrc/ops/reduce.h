// Reductions over one, several or all dims (dims as a list; empty = all), with keepdim, and
// scans (cumsum, cumprod). dtype rules follow PyTorch: sum/prod of integers and bool give
// int64, mean/var/std/norm need floating input, max/min/all/any keep the input dtype
// (all/any give bool, or uint8 for uint8). float16/bfloat16 compute in float32.
// ops/reduce.cpp: sum, mean, prod, all, any, max/min family; ops/reduce_stats.cpp: var, std,
// var_mean, std_mean, logsumexp, norm; ops/scan.cpp: cumsum, cumprod.
#pragma once
#include <optional>
#include <utility>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "kernels/common/reduce_spec.h"

namespace ranvier {

using OptDType = std::optional<DType>;

// Sum; integer and bool inputs sum in int64 like PyTorch; dtype converts the input first.
Tensor sum(const Tensor& t, const std::vector<int64_t>& dims = {}, bool keepdim = false,
           OptDType dtype = std::nullopt);
// Mean; floating inputs (or a floating dtype) only.
Tensor mean(const Tensor& t, const std::vector<int64_t>& dims = {}, bool keepdim = false,
            OptDType dtype = std::nullopt);
// Product; integer and bool inputs give int64. The gradient is exact with zeros in the input.
Tensor prod(const Tensor& t, const std::vector<int64_t>& dims = {}, bool keepdim = false,
            OptDType dtype = std::nullopt);
// Logical reductions (non-zero test); bool result (uint8 for uint8 input).
Tensor all(const Tensor& t, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor any(const Tensor& t, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// Largest / smallest value over dims (all when empty); the gradient is shared evenly by ties.
Tensor amax(const Tensor& t, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& t, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// max()/min() over everything: a 0-d tensor.
Tensor max(const Tensor& t);
Tensor min(const Tensor& t);
// max/min along one dim: values and the index of the first winner (NaN wins).
struct ValuesIndices {
  Tensor values;
  Tensor indices;
};
ValuesIndices max(const Tensor& t, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& t, int64_t dim, bool keepdim = false);
// Index of the largest / smallest value along dim, or in the flattened tensor (no dim).
Tensor argmax(const Tensor& t, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& t, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);

// Variance / standard deviation with Bessel-style correction (1 = unbiased).
Tensor var(const Tensor& t, const std::vector<int64_t>& dims = {}, double correction = 1.0,
           bool keepdim = false);
Tensor std(const Tensor& t, const std::vector<int64_t>& dims = {}, double correction = 1.0,
           bool keepdim = false);
std::pair<Tensor, Tensor> var_mean(const Tensor& t, const std::vector<int64_t>& dims = {},
                                   double correction = 1.0, bool keepdim = false);
std::pair<Tensor, Tensor> std_mean(const Tensor& t, const std::vector<int64_t>& dims = {},
                                   double correction = 1.0, bool keepdim = false);
// log(sum(exp(t))) computed stably (the max is subtracted first).
Tensor logsumexp(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim = false);
// Vector p-norm over dims (all when empty): p = 2, 1, 0, inf, -inf or any other real.
Tensor norm(const Tensor& t, double p = 2.0, const std::vector<int64_t>& dims = {},
            bool keepdim = false, OptDType dtype = std::nullopt);

// Cumulative sum / product along dim (integer and bool inputs give int64).
Tensor cumsum(const Tensor& t, int64_t dim, OptDType dtype = std::nullopt);
Tensor cumprod(const Tensor& t, int64_t dim, OptDType dtype = std::nullopt);
// Sum from the end of dim to each position (the gradient of cumsum); differentiable.
Tensor reverse_cumsum(const Tensor& t, int64_t dim);

// ---- helpers shared by the reduction files ----

// Builds the ReduceSpec of t over the reduced dims into the contiguous out.
ReduceSpec make_reduce_spec(const Tensor& t, const std::vector<bool>& reduced, const Tensor& out);
// Which dims of t are reduced (all when dims is empty); IndexError naming op on a bad dim.
std::vector<bool> reduced_dims(const Tensor& t, const std::vector<int64_t>& dims, const char* op);
// Output shape for a reduction.
Shape reduced_shape(const Tensor& t, const std::vector<bool>& reduced, bool keepdim);
// Re-inserts reduced dims as size 1 (so a keepdim=false gradient broadcasts back).
Tensor unsqueeze_reduced(const Tensor& g, const std::vector<bool>& reduced, bool keepdim);
// Number of input elements that go into one output element.
int64_t reduced_count(const Tensor& t, const std::vector<bool>& reduced);
// Runs the reduction kernel (no autograd): `in` is in a dtype the kernel computes in.
// Writes values in out_dtype (unless values is false) and, for Max/Min, the winners' indices.
Tensor reduce_raw(ReduceOp op, const Tensor& in, const std::vector<bool>& reduced, bool keepdim,
                  DType out_dtype, const char* name, double p = 2.0, Tensor* indices = nullptr,
                  bool values = true);
// The inclusive / exclusive, forward / reversed scan of t along dim (no autograd), in out_dtype.
Tensor scan_raw(ScanOp op, const Tensor& t, int64_t dim, DType out_dtype, bool exclusive,
                bool reverse, const char* name);

using ReduceKernel = void (*)(ReduceOp op, const ReduceSpec& s);
using ScanKernel = void (*)(const ScanSpec& s);
using CumprodGradKernel = void (*)(const CumprodGradSpec& s);
extern KernelSlot<ReduceKernel> reduce_kernel;
extern KernelSlot<ScanKernel> scan_kernel;
extern KernelSlot<CumprodGradKernel> cumprod_grad_kernel;

}  // namespace ranvier
