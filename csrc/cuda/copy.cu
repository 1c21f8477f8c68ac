// CUDA copy kernels: the cast slot (strided copy with dtype conversion, every dtype pair), the
// fill slot, and the raw memcpy between host and device that ops/copy.cpp calls for
// cross-device copies (both sides contiguous by then).
#include <cstring>

#include "core/half.h"
#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "ops/copy.h"

namespace ranvier::cuda {

namespace {

// Elements per thread: 8 for 1- and 2-byte sources, so that a copy of 16-bit values keeps as
// many bytes in flight as one of float32 values (the copy is bound by memory latency).
template <typename S>
constexpr int kCastUnroll = sizeof(S) <= 2 ? 2 * kUnroll : kUnroll;

template <typename D, typename S>
__global__ void cast_kernel_dev(LoopSpec s, Divisors dv) {
  constexpr int U = kCastUnroll<S>;
  S v[U];
  strided_loop<2, U>(
      s, dv,
      [&](int j, const int64_t(&off)[2]) { v[j] = reinterpret_cast<const S*>(s.data[1])[off[1]]; },
      [&](int j, const int64_t(&off)[2]) {
        reinterpret_cast<D*>(s.data[0])[off[0]] = convert<D, S>(v[j]);
      });
}

// Writes the element pattern `bits` (1, 2, 4 or 8 bytes) everywhere in operand 0.
template <typename U>
__global__ void fill_kernel_dev(LoopSpec s, Divisors dv, U bits) {
  int64_t off[1];
  RV_GRID_STRIDE(i, s.numel) {
    loop_offsets(s, dv, i, off);
    reinterpret_cast<U*>(s.data[0])[off[0]] = bits;
  }
}

void cast_cuda(const LoopSpec& s) {
  if (s.numel == 0) return;
  dispatch_dtype(s.dtypes[0], "copy_", [&](auto dt) {
    using D = typename decltype(dt)::type;
    dispatch_dtype(s.dtypes[1], "copy_", [&](auto st) {
      using S = typename decltype(st)::type;
      cast_kernel_dev<D, S><<<grid_for(s.numel, kCastUnroll<S>), kThreads>>>(s, divisors_for(s));
      RV_CUDA_CHECK(cudaGetLastError());
    });
  });
}

// The value v stored as dtype t, as raw bytes (host-side conversion, same as the CPU fill).
uint64_t element_bits(DType t, const Scalar& v) {
  uint64_t bits = 0;
  auto put = [&](auto x) { std::memcpy(&bits, &x, sizeof(x)); };
  switch (t) {
    case DType::Float32: put(v.to<float>()); break;
    case DType::Float64: put(v.to<double>()); break;
    case DType::Float16: put(Half(float(v.to_double())).x); break;
    case DType::BFloat16: put(BFloat16(float(v.to_double())).x); break;
    case DType::Int64: put(v.to<int64_t>()); break;
    case DType::Int32: put(v.to<int32_t>()); break;
    case DType::UInt8: put(v.to<uint8_t>()); break;
    case DType::Bool: put(v.to<bool>()); break;
  }
  return bits;
}

void fill_cuda(const LoopSpec& s, const Scalar& v) {
  if (s.numel == 0) return;
  uint64_t bits = element_bits(s.dtypes[0], v);
  unsigned g = grid_for(s.numel);
  const Divisors dv = divisors_for(s);
  switch (element_size(s.dtypes[0])) {
    case 1: fill_kernel_dev<uint8_t><<<g, kThreads>>>(s, dv, uint8_t(bits)); break;
    case 2: fill_kernel_dev<uint16_t><<<g, kThreads>>>(s, dv, uint16_t(bits)); break;
    case 4: fill_kernel_dev<uint32_t><<<g, kThreads>>>(s, dv, uint32_t(bits)); break;
    default: fill_kernel_dev<uint64_t><<<g, kThreads>>>(s, dv, bits); break;
  }
  RV_CUDA_CHECK(cudaGetLastError());
}

// Synchronous copy of nbytes between any two devices (host memory for the CPU side).
void memcpy_cuda(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  cudaMemcpyKind kind;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  } else if (dst_dev.is_cpu()) {
    kind = cudaMemcpyDeviceToHost;
  } else if (src_dev.is_cpu()) {
    kind = cudaMemcpyHostToDevice;
  } else {
    kind = cudaMemcpyDeviceToDevice;
  }
  if (kind == cudaMemcpyDeviceToDevice && dst_dev.index != src_dev.index) {
    RV_CUDA_CHECK(cudaMemcpyPeer(dst, dst_dev.index, src, src_dev.index, nbytes));
    return;
  }
  // The default stream orders this after every kernel already queued on it.
  RV_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, kind));
}

}  // namespace

void register_copy_cuda() {
  cast_kernel.set(DeviceType::CUDA, &cast_cuda);
  fill_kernel.set(DeviceType::CUDA, &fill_cuda);
  device_memcpy = &memcpy_cuda;
}

}  // namespace ranvier::cuda
