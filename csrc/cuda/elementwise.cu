// CUDA elementwise kernels (first set): binary add/sub/mul/div/minimum/maximum/relu-grad and
// unary neg/abs/square/reciprocal/exp/log/sqrt/rsqrt/sin/cos/tanh/sigmoid/relu/silu, for
// float32 and float64 compute dtypes (float16/bfloat16 reach them as float32: the op layer
// converts). Other ops and dtypes raise NotImplementedError naming the op and dtype.
//
// Note [CPU scalar operand]: the core lets a 0-d CPU tensor join an op on CUDA (PyTorch's
// rule). Such an operand reaches the kernel as a host pointer with all strides 0; the launcher
// reads its value on the host and passes it by value.
#include <cmath>

#include "cuda/cuda_check.h"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "ops/binary.h"
#include "ops/unary.h"

namespace ranvier::cuda {

namespace {

// ---- functors ----
struct AddF { template <typename T> __device__ T operator()(T a, T b) const { return a + b; } };
struct SubF { template <typename T> __device__ T operator()(T a, T b) const { return a - b; } };
struct MulF { template <typename T> __device__ T operator()(T a, T b) const { return a * b; } };
struct DivF { template <typename T> __device__ T operator()(T a, T b) const { return a / b; } };
// NaN-propagating, like the CPU functors.
struct MinF {
  template <typename T> __device__ T operator()(T a, T b) const {
    return (a != a) ? a : ((b != b) ? b : (a < b ? a : b));
  }
};
struct MaxF {
  template <typename T> __device__ T operator()(T a, T b) const {
    return (a != a) ? a : ((b != b) ? b : (a > b ? a : b));
  }
};
struct ReluGradF {
  template <typename T> __device__ T operator()(T a, T b) const { return b > T(0) ? a : T(0); }
};

struct NegF { template <typename T> __device__ T operator()(T x) const { return -x; } };
struct IdentityF { template <typename T> __device__ T operator()(T x) const { return x; } };
struct AbsF { template <typename T> __device__ T operator()(T x) const { return ::fabs(x); } };
struct SquareF { template <typename T> __device__ T operator()(T x) const { return x * x; } };
struct ReciprocalF { template <typename T> __device__ T operator()(T x) const { return T(1) / x; } };
struct ExpF { template <typename T> __device__ T operator()(T x) const { return ::exp(x); } };
struct LogF { template <typename T> __device__ T operator()(T x) const { return ::log(x); } };
struct SqrtF { template <typename T> __device__ T operator()(T x) const { return ::sqrt(x); } };
struct RsqrtF { template <typename T> __device__ T operator()(T x) const { return ::rsqrt(x); } };
struct SinF { template <typename T> __device__ T operator()(T x) const { return ::sin(x); } };
struct CosF { template <typename T> __device__ T operator()(T x) const { return ::cos(x); } };
struct TanhF { template <typename T> __device__ T operator()(T x) const { return ::tanh(x); } };
struct SigmoidF {
  template <typename T> __device__ T operator()(T x) const { return T(1) / (T(1) + ::exp(-x)); }
};
struct ReluF {
  // NaN stays NaN (x > 0 is false for NaN, so test x < 0 instead).
  template <typename T> __device__ T operator()(T x) const { return x < T(0) ? T(0) : x; }
};
struct SiluF {
  template <typename T> __device__ T operator()(T x) const { return x / (T(1) + ::exp(-x)); }
};

// ---- kernels ----
template <typename T, typename F>
__global__ void binary_dev(LoopSpec s, F f, bool a_host, T a_val, bool b_host, T b_val) {
  int64_t off[kMaxOperands];
  RV_GRID_STRIDE(i, s.numel) {
    loop_offsets(s, i, off);
    T a = a_host ? a_val : reinterpret_cast<const T*>(s.data[1])[off[1]];
    T b = b_host ? b_val : reinterpret_cast<const T*>(s.data[2])[off[2]];
    reinterpret_cast<T*>(s.data[0])[off[0]] = f(a, b);
  }
}

template <typename T, typename F>
__global__ void unary_dev(LoopSpec s, F f) {
  int64_t off[kMaxOperands];
  RV_GRID_STRIDE(i, s.numel) {
    loop_offsets(s, i, off);
    reinterpret_cast<T*>(s.data[0])[off[0]] = f(reinterpret_cast<const T*>(s.data[1])[off[1]]);
  }
}

// Note [CPU scalar operand]: whether operand k is a broadcast value in host memory, and if so
// its value.
template <typename T>
bool host_scalar(const LoopSpec& s, int k, T* value) {
  for (int d = 0; d < s.ndim; ++d)
    if (s.strides[k][d] != 0) return false;
  cudaPointerAttributes attr;
  cudaError_t err = cudaPointerGetAttributes(&attr, s.data[k]);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error of an unknown pointer
    return false;
  }
  if (attr.type != cudaMemoryTypeUnregistered && attr.type != cudaMemoryTypeHost) return false;
  *value = *reinterpret_cast<const T*>(s.data[k]);
  return true;
}

template <typename T, typename F>
void launch_binary(const LoopSpec& s, F f) {
  T a_val = T(0), b_val = T(0);
  bool a_host = host_scalar<T>(s, 1, &a_val);
  bool b_host = host_scalar<T>(s, 2, &b_val);
  binary_dev<T, F><<<grid_for(s.numel), kThreads>>>(s, f, a_host, a_val, b_host, b_val);
  RV_CUDA_CHECK(cudaGetLastError());
}

template <typename T, typename F>
void launch_unary(const LoopSpec& s, F f) {
  unary_dev<T, F><<<grid_for(s.numel), kThreads>>>(s, f);
  RV_CUDA_CHECK(cudaGetLastError());
}

[[noreturn]] void no_kernel(const char* kind, int op, DType t) {
  throw_error(ErrorKind::NotImplemented,
              str_cat(kind, " op #", op, " has no CUDA kernel for dtype ", dtype_name(t),
                      " (CUDA has add/sub/mul/div/minimum/maximum and a few unary ops for "
                      "floating dtypes so far)"));
}

template <typename T>
void binary_typed(BinaryOp op, const LoopSpec& s) {
  switch (op) {
    case BinaryOp::Add: return launch_binary<T>(s, AddF{});
    case BinaryOp::Sub: return launch_binary<T>(s, SubF{});
    case BinaryOp::Mul: return launch_binary<T>(s, MulF{});
    case BinaryOp::Div: return launch_binary<T>(s, DivF{});
    case BinaryOp::Minimum: return launch_binary<T>(s, MinF{});
    case BinaryOp::Maximum: return launch_binary<T>(s, MaxF{});
    case BinaryOp::ReluGrad: return launch_binary<T>(s, ReluGradF{});
    default: no_kernel("binary", int(op), s.dtypes[0]);
  }
}

void binary_cuda(BinaryOp op, const LoopSpec& s) {
  if (s.numel == 0) return;
  DType t = s.dtypes[0];
  bool same = s.nops == 3 && s.dtypes[1] == t && s.dtypes[2] == t;
  if (same && t == DType::Float32) return binary_typed<float>(op, s);
  if (same && t == DType::Float64) return binary_typed<double>(op, s);
  no_kernel("binary", int(op), t);
}

template <typename T>
void unary_typed(UnaryOp op, const LoopSpec& s) {
  switch (op) {
    case UnaryOp::Identity: return launch_unary<T>(s, IdentityF{});
    case UnaryOp::Neg: return launch_unary<T>(s, NegF{});
    case UnaryOp::Abs: return launch_unary<T>(s, AbsF{});
    case UnaryOp::Square: return launch_unary<T>(s, SquareF{});
    case UnaryOp::Reciprocal: return launch_unary<T>(s, ReciprocalF{});
    case UnaryOp::Exp: return launch_unary<T>(s, ExpF{});
    case UnaryOp::Log: return launch_unary<T>(s, LogF{});
    case UnaryOp::Sqrt: return launch_unary<T>(s, SqrtF{});
    case UnaryOp::Rsqrt: return launch_unary<T>(s, RsqrtF{});
    case UnaryOp::Sin: return launch_unary<T>(s, SinF{});
    case UnaryOp::Cos: return launch_unary<T>(s, CosF{});
    case UnaryOp::Tanh: return launch_unary<T>(s, TanhF{});
    case UnaryOp::Sigmoid: return launch_unary<T>(s, SigmoidF{});
    case UnaryOp::Relu: return launch_unary<T>(s, ReluF{});
    case UnaryOp::Silu: return launch_unary<T>(s, SiluF{});
    default: no_kernel("unary", int(op), s.dtypes[0]);
  }
}

void unary_cuda(UnaryOp op, const LoopSpec& s, const UnaryArgs&) {
  if (s.numel == 0) return;
  DType t = s.dtypes[0];
  bool same = s.nops == 2 && s.dtypes[1] == t;
  if (same && t == DType::Float32) return unary_typed<float>(op, s);
  if (same && t == DType::Float64) return unary_typed<double>(op, s);
  no_kernel("unary", int(op), t);
}

}  // namespace

void register_elementwise_cuda() {
  binary_kernel.set(DeviceType::CUDA, &binary_cuda);
  unary_kernel.set(DeviceType::CUDA, &unary_cuda);
}

}  // namespace ranvier::cuda
