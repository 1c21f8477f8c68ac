// Upsampling / resizing of [N, C, *spatial] tensors with 1-3 spatial dims (nn.functional
// .interpolate): modes nearest, nearest-exact, linear (linear / bilinear / trilinear, one
// separable multi-linear kernel), cubic (bicubic), their antialiased forms and area (adaptive
// average pooling: output j averages input [floor(j n / m), ceil((j + 1) n / m))). Every mode
// is a separable linear map: each output index along spatial dim d reads K taps (source index,
// weight) of the input along d (K = 1 nearest, 2 linear, 4 cubic, the widest window for area
// and antialiasing), so one tap table per dim describes the whole op.
// Note [Upsample coordinates]: the source coordinate of output index j, input size n, output
// size m, optional scale factor f (> 0 when given and used):
//   nearest:        floor(s * j) clamped to n-1, s = float(1/f) or float(n)/m
//   nearest-exact:  floor(max(s * (j + 0.5) - 0.5, 0) + 0.5) clamped to n-1
//                   (both evaluated in single precision, as PyTorch's CPU kernels do);
//                   with 2 spatial dims nearest maps m == n to j and m == 2n to j / 2
//   linear:         a dim with m == n is copied (whatever the scale factor)
//   antialiased:    s as for linear; output j reads the inputs within `support` of its centre
//                   c = s (j + 0.5), support = r * max(s, 1) (r = 1 linear, 2 cubic), weighted by
//                   the triangle / Keys cubic (a = -0.5) filter at (i + 0.5 - c) / max(s, 1),
//                   normalised to sum 1
//   linear, cubic:  align_corners: j * (m > 1 ? (n-1)/(m-1) : 0)
//                   else (j + 0.5) * s - 0.5 with s = 1/f or n/m; linear clamps it at 0
// Backward is the transposed map (upsample_backward); each is the other's derivative, so
// double backward works.
#pragma once
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace ranvier {

// LinearAA / CubicAA: antialiased bilinear / bicubic (see Note [Upsample coordinates]).
enum class UpsampleMode : int8_t { Nearest, NearestExact, Linear, Cubic, Area, LinearAA, CubicAA };

// input [N, C, *spatial] (1-3 spatial dims); output_size one entry per spatial dim; scales one
// entry per spatial dim (<= 0 means "not given") or empty.
Tensor upsample(const Tensor& input, UpsampleMode mode, const Shape& output_size,
                bool align_corners, const std::vector<double>& scales);
// The adjoint of upsample: grad [N, C, *output_size] -> [N, C, *input_size].
Tensor upsample_backward(const Tensor& grad, UpsampleMode mode, const Shape& input_size,
                         bool align_corners, const std::vector<double>& scales);

// Contiguous planes [planes, in0, in1, in2] -> [planes, out0, out1, out2] (missing leading
// spatial dims have size 1 and one tap {0, 1.0}); tap tables idx/w hold out_d * k[d] entries.
struct UpsampleSpec {
  DType dtype;
  int64_t planes = 0;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  int64_t k[3] = {1, 1, 1};
  const int64_t* idx[3] = {nullptr, nullptr, nullptr};
  const double* w[3] = {nullptr, nullptr, nullptr};
  const void* src = nullptr;  // forward: input planes; backward: output-gradient planes
  void* dst = nullptr;        // forward: output planes; backward: input-gradient planes
};
using UpsampleKernel = void (*)(const UpsampleSpec& s);
extern KernelSlot<UpsampleKernel> upsample_forward_kernel;
extern KernelSlot<UpsampleKernel> upsample_backward_kernel;

}  // namespace ranvier
