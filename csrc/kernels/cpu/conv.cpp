// CPU kernels of the convolution family: im2col and col2im over contiguous [planes, h, w]
// images. Work is split by plane, so every output element is written by one thread in a fixed
// order and results do not depend on the thread count.
#include "core/parallel.h"
#include "kernels/cpu/im2col.h"
#include "ops/conv.h"

namespace ranvier::cpu {

namespace {

int64_t plane_grain(const Im2ColSpec& s) {
  int64_t work = s.kh * s.kw * s.oh * s.ow + s.h * s.w;
  return work >= kGrainSize ? 1 : kGrainSize / (work > 0 ? work : 1);
}

void im2col_cpu(const Im2ColSpec& s, const char* img, char* col) {
  RV_DISPATCH_FLOAT(s.dtype, "im2col", [&] {
    const auto* in = reinterpret_cast<const scalar_t*>(img);
    auto* out = reinterpret_cast<scalar_t*>(col);
    const int64_t in_plane = s.h * s.w, out_plane = s.kh * s.kw * s.oh * s.ow;
    parallel_for(0, s.planes, plane_grain(s), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) im2col_plane(s, in + p * in_plane, out + p * out_plane);
    });
  });
}

void col2im_cpu(const Im2ColSpec& s, const char* col, char* img) {
  RV_DISPATCH_FLOAT(s.dtype, "col2im", [&] {
    const auto* in = reinterpret_cast<const scalar_t*>(col);
    auto* out = reinterpret_cast<scalar_t*>(img);
    const int64_t out_plane = s.h * s.w, in_plane = s.kh * s.kw * s.oh * s.ow;
    parallel_for(0, s.planes, plane_grain(s), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) col2im_plane(s, in + p * in_plane, out + p * out_plane);
    });
  });
}

}  // namespace

void register_conv_gemm_cpu();  // kernels/cpu/conv_gemm.cpp

void register_conv_cpu() {
  register_conv_gemm_cpu();
  im2col_kernel.set(DeviceType::CPU, &im2col_cpu);
  col2im_kernel.set(DeviceType::CPU, &col2im_cpu);
}

}  // namespace ranvier::cpu
