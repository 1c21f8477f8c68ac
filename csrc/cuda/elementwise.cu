// CUDA elementwise kernels: every BinaryOp, UnaryOp and TernaryOp, through the functors the CPU
// kernels use (kernels/common/{binary,unary,ternary}_ops.h, compiled here for the device), for
// every compute dtype the op layer hands a kernel: float32, float64, int64, int32, uint8 and
// bool. The float32 kernels also read and write float16 / bfloat16 operands, converting in
// registers (Note [16-bit operands] in ops/iter.h), so 16-bit tensors need no float32 copies.
// `where` copies elements of any of the 8 dtypes bit for bit, like the CPU.
//
// One kernel per (compute dtype, family): it picks the op's functor once (a uniform branch)
// and then runs the unrolled grid-stride loop of loop.cuh over the LoopSpec. Comparisons and
// logical ops write bool.
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
#include "ops/iter.h"
#include "ops/ternary.h"
#include "ops/unary.h"

namespace ranvier::cuda {

namespace {

// Inputs whose value was read on the host (Note [CPU scalar operand]), as raw bytes; for the
// float32 kernels, which convert 16-bit operands (Note [16-bit operands] in ops/iter.h), a
// 16-bit value is stored already converted to float32.
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
  if (is_reduced_float(s.dtypes[k])) {
    uint16_t raw;
    std::memcpy(&raw, s.data[k], sizeof raw);
    const float f = s.dtypes[k] == DType::Float16 ? reduced_to_float(DHalf{raw})
                                                  : reduced_to_float(DBf16{raw});
    std::memcpy(&h.bits[k], &f, sizeof f);
  } else {
    std::memcpy(&h.bits[k], s.data[k], element_size(s.dtypes[k]));
  }
  h.host[k] = true;
  return true;
}

HostOperands host_operands(const LoopSpec& s) {
  HostOperands h;
  for (int k = 1; k < s.nops; ++k) host_scalar(s, k, h);
  return h;
}

// Operand k's element at off as T. The float32 kernels read each operand in its own dtype
// (float32, float16 or bfloat16: a branch that is the same for every thread).
template <typename T>
__device__ __forceinline__ T load(const LoopSpec& s, const HostOperands& h, int k, int64_t off) {
  if (h.host[k]) {
    T v;
    memcpy(&v, &h.bits[k], sizeof(T));
    return v;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (s.dtypes[k] == DType::BFloat16)
      return reduced_to_float(reinterpret_cast<const DBf16*>(s.data[k])[off]);
    if (s.dtypes[k] == DType::Float16)
      return reduced_to_float(reinterpret_cast<const DHalf*>(s.data[k])[off]);
  }
  return reinterpret_cast<const T*>(s.data[k])[off];
}

// Writes v to the output element at off; a float32 result goes out in the output's dtype.
template <typename R>
__device__ __forceinline__ void store(const LoopSpec& s, int64_t off, R v) {
  if constexpr (std::is_same_v<R, float>) {
    if (s.dtypes[0] == DType::BFloat16) {
      reinterpret_cast<DBf16*>(s.data[0])[off] = float_to_reduced<DBf16>(v);
      return;
    }
    if (s.dtypes[0] == DType::Float16) {
      reinterpret_cast<DHalf*>(s.data[0])[off] = float_to_reduced<DHalf>(v);
      return;
    }
  }
  reinterpret_cast<R*>(s.data[0])[off] = v;
}

// Elements per thread: kUnroll for float32 (and 16-bit) math, the hot path; 1 for the other
// compute types, whose many functors would otherwise multiply the code (and build time).
template <typename T>
constexpr int kPerThread = std::is_same_v<T, float> ? kUnroll : 1;

// The elementwise loop of an N-input functor f: loads all operands of kPerThread elements,
// then computes and stores them (loop.cuh). The per-element offsets keep fewer registers live
// than strided_loop's shared walk, which made the elementwise kernels slower (a float32 +
// bfloat16 add of [8192, 768]: 40 -> 66 us) while it halved the strided copies' time.
template <int N, typename T, typename F>
__device__ __forceinline__ void run_elementwise(const LoopSpec& s, const Divisors& dv,
                                                const HostOperands& h, F f) {
  constexpr int U = kPerThread<T>;
  T v[U][N];
  int64_t out_off[U];
  unrolled_loop<U>(
      s.numel,
      [&](int j, int64_t i) {
        int64_t off[N + 1];
        loop_offsets(s, dv, i, off);
        out_off[j] = off[0];
#pragma unroll
        for (int k = 0; k < N; ++k) v[j][k] = load<T>(s, h, k + 1, off[k + 1]);
      },
      [&](int j, int64_t) {
        if constexpr (N == 1) store(s, out_off[j], f(v[j][0]));
        else if constexpr (N == 2) store(s, out_off[j], f(v[j][0], v[j][1]));
        else store(s, out_off[j], f(v[j][0], v[j][1], v[j][2]));
      });
}

template <typename T>
__global__ void binary_dev(LoopSpec s, Divisors dv, BinaryOp op, HostOperands h) {
  with_binary_functor<T>(op, [&](auto f) { run_elementwise<2, T>(s, dv, h, f); });
}

template <typename T>
__global__ void unary_dev(LoopSpec s, Divisors dv, UnaryOp op, UnaryArgs args,
                          HostOperands h) {
  with_unary_functor<T>(op, args, [&](auto f) { run_elementwise<1, T>(s, dv, h, f); });
}

template <typename T>
__global__ void ternary_dev(LoopSpec s, Divisors dv, TernaryOp op, double alpha,
                            HostOperands h) {
  with_ternary_functor<T>(op, alpha, [&](auto f) { run_elementwise<3, T>(s, dv, h, f); });
}

// where(c, x, y) on raw element bits U (the size of the dtype); the condition is read as a byte.
template <typename U>
__global__ void where_dev(LoopSpec s, Divisors dv, HostOperands h) {
  int64_t off[4];
  RV_GRID_STRIDE(i, s.numel) {
    loop_offsets(s, dv, i, off);
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

// The dtype an elementwise kernel computes in: float32 when an operand is float16 / bfloat16
// (then every operand but a bool output must be one of float32, float16, bfloat16), else the
// dtype of operand 1, which every input must have.
DType compute_of(const LoopSpec& s, const char* what) {
  bool reduced = false;
  for (int k = 0; k < s.nops; ++k) reduced = reduced || is_reduced_float(s.dtypes[k]);
  if (!reduced) {
    check_inputs(s, 1, s.dtypes[1], what);
    return s.dtypes[1];
  }
  for (int k = 0; k < s.nops; ++k) {
    const DType t = s.dtypes[k];
    RV_CHECK(t == DType::Float32 || is_reduced_float(t) || (k == 0 && t == DType::Bool), what,
             " (CUDA): operand ", k, " has dtype ", dtype_name(t),
             " next to a 16-bit float operand; expected float32, float16 or bfloat16");
  }
  return DType::Float32;
}

void binary_cuda(BinaryOp op, const LoopSpec& s) {
  if (s.numel == 0) return;
  const DType ct = compute_of(s, "binary op");
  dispatch_compute(ct, "binary", int(op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!has_binary<T>(op)) no_functor("binary", int(op), ct);
    binary_dev<T><<<grid_for(s.numel, kPerThread<T>), kThreads>>>(s, divisors_for(s), op,
                                                                  host_operands(s));
    RV_CUDA_CHECK(cudaGetLastError());
  });
}

void unary_cuda(UnaryOp op, const LoopSpec& s, const UnaryArgs& args) {
  if (s.numel == 0) return;
  const DType ct = compute_of(s, "unary op");
  dispatch_compute(ct, "unary", int(op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!has_unary<T>(op, args)) no_functor("unary", int(op), ct);
    unary_dev<T><<<grid_for(s.numel, kPerThread<T>), kThreads>>>(s, divisors_for(s), op, args,
                                                                host_operands(s));
    RV_CUDA_CHECK(cudaGetLastError());
  });
}

void ternary_cuda(TernaryOp op, const LoopSpec& s, double alpha) {
  if (s.numel == 0) return;
  HostOperands h = host_operands(s);
  if (op == TernaryOp::Where) {
    check_inputs(s, 2, s.dtypes[0], "where");
    const Divisors dv = divisors_for(s);
    switch (element_size(s.dtypes[0])) {
      case 1: where_dev<uint8_t><<<grid_for(s.numel), kThreads>>>(s, dv, h); break;
      case 2: where_dev<uint16_t><<<grid_for(s.numel), kThreads>>>(s, dv, h); break;
      case 4: where_dev<uint32_t><<<grid_for(s.numel), kThreads>>>(s, dv, h); break;
      default: where_dev<uint64_t><<<grid_for(s.numel), kThreads>>>(s, dv, h); break;
    }
    RV_CUDA_CHECK(cudaGetLastError());
    return;
  }
  const DType ct = compute_of(s, "ternary op");
  dispatch_compute(ct, "ternary", int(op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!has_ternary<T>(op)) no_functor("ternary", int(op), ct);
    ternary_dev<T><<<grid_for(s.numel, kPerThread<T>), kThreads>>>(s, divisors_for(s), op,
                                                                   alpha, h);
    RV_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace

void register_elementwise_cuda() {
  set_converts_16bit(DeviceType::CUDA, true);
  binary_kernel.set(DeviceType::CUDA, &binary_cuda);
  unary_kernel.set(DeviceType::CUDA, &unary_cuda);
  ternary_kernel.set(DeviceType::CUDA, &ternary_cuda);
}

}  // namespace ranvier::cuda
