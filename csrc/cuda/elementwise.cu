// CUDA elementwise kernels: every BinaryOp, UnaryOp and TernaryOp, through the functors the CPU
// kernels use (kernels/common/{binary,unary,ternary}_ops.h, compiled here for the device), for
// every compute dtype the op layer hands a kernel: float32, float64, int64, int32, uint8 and
// bool (float16/bfloat16 tensors compute in float32: the op layer converts). `where` copies
// elements of any of the 8 dtypes bit for bit, like the CPU.
//
// One kernel per (compute dtype, family): it picks the op's functor once (a uniform branch)
// and then runs a grid-stride loop over the LoopSpec. Comparisons and logical ops write bool.
//
// Note [CPU scalar operand]: the core lets a 0-d CPU tensor join an op on CUDA (PyTorch's
// rule). Such an operand reaches the kernel as a host pointer with all strides 0; the launcher
// reads its bytes on the host and passes them by value (HostOperands).
#include <cstring>
#include <type_traits>

// The shared functors compare unsigned values with zero for every integer type (uint8 too).
#pragma nv_diag_suppress 186

#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/common/binary_ops.h"
#include "kernels/common/ternary_ops.h"
#include "kernels/common/unary_ops.h"
#include "ops/binary.h"
#include "ops/ternary.h"
#include "ops/unary.h"

namespace ranvier::cuda {

namespace {

// Inputs whose value was read on the host (Note [CPU scalar operand]), as raw bytes.
struct HostOperands {
  bool host[kMaxOperands] = {};
  uint64_t bits[kMaxOperands] = {};
};

// Whether operand k is a broadcast value in host memory; if so copies its bytes into h.
bool host_scalar(const LoopSpec& s, int k, HostOperands& h) {
  for (int d = 0; d < s.ndim; ++d)
    if (s.strides[k][d] != 0) return false;
  cudaPointerAttributes attr;
  cudaError_t err = cudaPointerGetAttributes(&attr, s.data[k]);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the error of an unknown pointer
    return false;
  }
  if (attr.type != cudaMemoryTypeUnregistered && attr.type != cudaMemoryTypeHost) return false;
  std::memcpy(&h.bits[k], s.data[k], element_size(s.dtypes[k]));
  h.host[k] = true;
  return true;
}

HostOperands host_operands(const LoopSpec& s) {
  HostOperands h;
  for (int k = 1; k < s.nops; ++k) host_scalar(s, k, h);
  return h;
}

template <typename T>
__device__ __forceinline__ T load(const LoopSpec& s, const HostOperands& h, int k, int64_t off) {
  if (h.host[k]) {
    T v;
    memcpy(&v, &h.bits[k], sizeof(T));
    return v;
  }
  return reinterpret_cast<const T*>(s.data[k])[off];
}

template <typename T>
__global__ void binary_dev(LoopSpec s, BinaryOp op, HostOperands h) {
  with_binary_functor<T>(op, [&](auto f) {
    using R = decltype(f(T(), T()));
    int64_t off[kMaxOperands];
    RV_GRID_STRIDE(i, s.numel) {
      loop_offsets(s, i, off);
      T a = load<T>(s, h, 1, off[1]);
      T b = load<T>(s, h, 2, off[2]);
      reinterpret_cast<R*>(s.data[0])[off[0]] = f(a, b);
    }
  });
}

template <typename T>
__global__ void unary_dev(LoopSpec s, UnaryOp op, UnaryArgs args, HostOperands h) {
  with_unary_functor<T>(op, args, [&](auto f) {
    using R = decltype(f(T()));
    int64_t off[kMaxOperands];
    RV_GRID_STRIDE(i, s.numel) {
      loop_offsets(s, i, off);
      reinterpret_cast<R*>(s.data[0])[off[0]] = f(load<T>(s, h, 1, off[1]));
    }
  });
}

template <typename T>
__global__ void ternary_dev(LoopSpec s, TernaryOp op, double alpha, HostOperands h) {
  with_ternary_functor<T>(op, alpha, [&](auto f) {
    int64_t off[kMaxOperands];
    RV_GRID_STRIDE(i, s.numel) {
      loop_offsets(s, i, off);
      T a = load<T>(s, h, 1, off[1]);
      T b = load<T>(s, h, 2, off[2]);
      T c = load<T>(s, h, 3, off[3]);
      reinterpret_cast<T*>(s.data[0])[off[0]] = f(a, b, c);
    }
  });
}

// where(c, x, y) on raw element bits U (the size of the dtype); the condition is read as a byte.
template <typename U>
__global__ void where_dev(LoopSpec s, HostOperands h) {
  int64_t off[kMaxOperands];
  RV_GRID_STRIDE(i, s.numel) {
    loop_offsets(s, i, off);
    bool c = load<uint8_t>(s, h, 1, off[1]) != 0;
    reinterpret_cast<U*>(s.data[0])[off[0]] = c ? load<U>(s, h, 2, off[2]) : load<U>(s, h, 3, off[3]);
  }
}

// The compute types as a template argument: float32, float64, int64, int32, uint8, bool.
template <typename F>
void dispatch_compute(DType t, const char* what, int op, F&& f) {
  switch (t) {
    case DType::Float32: return f(TypeTag<float>{});
    case DType::Float64: return f(TypeTag<double>{});
    case DType::Int64: return f(TypeTag<int64_t>{});
    case DType::Int32: return f(TypeTag<int32_t>{});
    case DType::UInt8: return f(TypeTag<uint8_t>{});
    case DType::Bool: return f(TypeTag<bool>{});
    default:
      throw_error(ErrorKind::NotImplemented,
                  str_cat(what, " op #", op, " has no CUDA kernel for dtype ", dtype_name(t),
                          " (float16/bfloat16 compute in float32)"));
  }
}

// Whether the functor exists for op and T (the op layer rejects the others first).
struct MarkFound {
  bool* found;
  template <typename F> __host__ __device__ void operator()(const F&) const { *found = true; }
};
template <typename T>
bool has_binary(BinaryOp op) {
  bool found = false;
  with_binary_functor<T>(op, MarkFound{&found});
  return found;
}
template <typename T>
bool has_unary(UnaryOp op, const UnaryArgs& args) {
  bool found = false;
  with_unary_functor<T>(op, args, MarkFound{&found});
  return found;
}
template <typename T>
bool has_ternary(TernaryOp op) {
  bool found = false;
  with_ternary_functor<T>(op, 1.0, MarkFound{&found});
  return found;
}

[[noreturn]] void no_functor(const char* what, int op, DType t) {
  throw_error(ErrorKind::Runtime,
              str_cat(what, " op #", op, " is not defined for dtype ", dtype_name(t)));
}

// The op layer hands every input in the compute dtype (operand 1's); a mismatch would make the
// kernel misread memory, so it is refused.
void check_inputs(const LoopSpec& s, int first, DType t, const char* what) {
  for (int k = first; k < s.nops; ++k)
    RV_CHECK(s.dtypes[k] == t, what, " (CUDA): operand ", k, " has dtype ", dtype_name(s.dtypes[k]),
             ", expected ", dtype_name(t));
}

void binary_cuda(BinaryOp op, const LoopSpec& s) {
  if (s.numel == 0) return;
  check_inputs(s, 1, s.dtypes[1], "binary op");
  dispatch_compute(s.dtypes[1], "binary", int(op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!has_binary<T>(op)) no_functor("binary", int(op), s.dtypes[1]);
    binary_dev<T><<<grid_for(s.numel), kThreads>>>(s, op, host_operands(s));
    RV_CUDA_CHECK(cudaGetLastError());
  });
}

void unary_cuda(UnaryOp op, const LoopSpec& s, const UnaryArgs& args) {
  if (s.numel == 0) return;
  dispatch_compute(s.dtypes[1], "unary", int(op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!has_unary<T>(op, args)) no_functor("unary", int(op), s.dtypes[1]);
    unary_dev<T><<<grid_for(s.numel), kThreads>>>(s, op, args, host_operands(s));
    RV_CUDA_CHECK(cudaGetLastError());
  });
}

void ternary_cuda(TernaryOp op, const LoopSpec& s, double alpha) {
  if (s.numel == 0) return;
  HostOperands h = host_operands(s);
  if (op == TernaryOp::Where) {
    check_inputs(s, 2, s.dtypes[0], "where");
    switch (element_size(s.dtypes[0])) {
      case 1: where_dev<uint8_t><<<grid_for(s.numel), kThreads>>>(s, h); break;
      case 2: where_dev<uint16_t><<<grid_for(s.numel), kThreads>>>(s, h); break;
      case 4: where_dev<uint32_t><<<grid_for(s.numel), kThreads>>>(s, h); break;
      default: where_dev<uint64_t><<<grid_for(s.numel), kThreads>>>(s, h); break;
    }
    RV_CUDA_CHECK(cudaGetLastError());
    return;
  }
  check_inputs(s, 1, s.dtypes[0], "ternary op");
  dispatch_compute(s.dtypes[0], "ternary", int(op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!has_ternary<T>(op)) no_functor("ternary", int(op), s.dtypes[0]);
    ternary_dev<T><<<grid_for(s.numel), kThreads>>>(s, op, alpha, h);
    RV_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace

void register_elementwise_cuda() {
  binary_kernel.set(DeviceType::CUDA, &binary_cuda);
  unary_kernel.set(DeviceType::CUDA, &unary_cuda);
  ternary_kernel.set(DeviceType::CUDA, &ternary_cuda);
}

}  // namespace ranvier::cuda
