// CUDA scan kernels (scan_kernel and cumprod_grad_kernel slots, ops/reduce.h): cumsum /
// cumprod (inclusive or exclusive, forward or reversed) for the compute dtypes float32,
// float64, int64, int32, uint8 and bool into the CPU kernel's output dtypes, and the
// division-free cumprod gradient (float32, float64).
// One thread per line, walking the line sequentially with the CPU's wide accumulator
// (scan.cuh): results are bitwise the CPU's and never depend on the launch shape. Long single
// lines are therefore serial (correct, not fast).
#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/scan.cuh"
#include "ops/reduce.h"

namespace ranvier::cuda {

namespace {

template <typename T, typename Out>
__global__ void scan_dev(ScanSpec s) {
  RV_GRID_STRIDE(o, s.outer_numel) { scan_math::scan_line<T, Out>(s, o); }
}

template <typename T>
__global__ void cumprod_grad_dev(CumprodGradSpec g) {
  RV_GRID_STRIDE(o, g.scan.outer_numel) { scan_math::cumprod_grad_line<T>(g, o); }
}

template <typename T>
void scan_typed(const ScanSpec& s, const char* name) {
  const unsigned grid = grid_for(s.outer_numel);
  switch (s.out_dtype) {
    case DType::Float32: scan_dev<T, float><<<grid, kThreads>>>(s); break;
    case DType::Float64: scan_dev<T, double><<<grid, kThreads>>>(s); break;
    case DType::Int64: scan_dev<T, int64_t><<<grid, kThreads>>>(s); break;
    case DType::Int32: scan_dev<T, int32_t><<<grid, kThreads>>>(s); break;
    case DType::UInt8: scan_dev<T, uint8_t><<<grid, kThreads>>>(s); break;
    default: throw_unsupported_dtype(name, s.out_dtype);
  }
  RV_CUDA_CHECK(cudaGetLastError());
}

void scan_cuda(const ScanSpec& s) {
  if (s.outer_numel == 0 || s.n == 0) return;
  const char* name = s.op == ScanOp::Sum ? "cumsum" : "cumprod";
  switch (s.in_dtype) {
    case DType::Float32: return scan_typed<float>(s, name);
    case DType::Float64: return scan_typed<double>(s, name);
    case DType::Int64: return scan_typed<int64_t>(s, name);
    case DType::Int32: return scan_typed<int32_t>(s, name);
    case DType::UInt8: return scan_typed<uint8_t>(s, name);
    case DType::Bool: return scan_typed<bool>(s, name);
    default: throw_unsupported_dtype(name, s.in_dtype);
  }
}

void cumprod_grad_cuda(const CumprodGradSpec& g) {
  const ScanSpec& s = g.scan;
  if (s.outer_numel == 0 || s.n == 0) return;
  const unsigned grid = grid_for(s.outer_numel);
  if (s.in_dtype == DType::Float32) cumprod_grad_dev<float><<<grid, kThreads>>>(g);
  else if (s.in_dtype == DType::Float64) cumprod_grad_dev<double><<<grid, kThreads>>>(g);
  else throw_unsupported_dtype("cumprod_backward", s.in_dtype);
  RV_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void register_scan_cuda() {
  scan_kernel.set(DeviceType::CUDA, &scan_cuda);
  cumprod_grad_kernel.set(DeviceType::CUDA, &cumprod_grad_cuda);
}

}  // namespace ranvier::cuda
