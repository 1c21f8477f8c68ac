// CUDA reduction kernel (reduce_kernel slot, ops/reduce.h): sum, prod, max/min (values, and
// the first winner's index for max/min/argmax/argmin), all, any and p-norms over any
// ReduceSpec, for the compute dtypes float32, float64, int64, int32, uint8 and bool (and sums of
// float16 / bfloat16 inputs into float32, read in place), with the CPU kernel's output dtypes
// (the input's, int64 for integer sums and products, bool or uint8 for all/any).
// mean/var/std/logsumexp are built by the op layer from these.
//
// Algorithm (Note [Deterministic CUDA reductions] in reduce.cuh): three walks, chosen from the
// spec's sizes only.
//   - short rows (inner_numel <= 32): one thread per output, inner elements left to right (the
//     CPU's order within a block; neighbouring threads read neighbouring memory);
//   - column reductions (the kept dim is contiguous, the reduced one is not): the column walk
//     (reduce_cols_dev below), the reduced elements split into chunks over blocks;
//   - otherwise one block of kReduceThreads threads per output (grid-stride over outputs):
//     thread t folds elements t, t + 256, ...; then a fixed pairwise tree in shared memory.
// No atomics; the combination order depends on the output's size only, never on the grid.
#include <algorithm>

#include "cuda/context.h"
#include "cuda/cuda_check.h"
#include "cuda/dtypes.cuh"
#include "cuda/loop.cuh"
#include "cuda/register.h"
#include "kernels/cuda/reduce.cuh"
#include "ops/reduce.h"

namespace ranvier::cuda {

namespace {

using namespace reduce_math;

constexpr int kReduceThreads = 256;

template <typename Out, typename Op>
__device__ __forceinline__ void emit(const ReduceSpec& s, const Op& op, int64_t o,
                                     const typename Op::acc_t& a) {
  if (s.out) reinterpret_cast<Out*>(s.out)[o] = op.template value<Out>(a);
  if constexpr (Op::kIndex) {
    if (s.indices) s.indices[o] = a.i < 0 ? 0 : a.i;
  }
}

// S: the stored input type (T, or a 16-bit float summed as T = float).
template <typename T, typename Out, typename Op, typename S>
__global__ void reduce_thread_dev(ReduceSpec s, Op op) {
  const S* in = reinterpret_cast<const S*>(s.in);
  RV_GRID_STRIDE(o, s.outer_numel) {
    emit<Out>(s, op, o, reduce_strided<T>(s, op, in, outer_offset(s, o), 0, 1));
  }
}

template <typename T, typename Out, typename Op, typename S>
__global__ void __launch_bounds__(kReduceThreads) reduce_block_dev(ReduceSpec s, Op op) {
  using acc_t = typename Op::acc_t;
  __shared__ acc_t slots[kReduceThreads];
  const S* in = reinterpret_cast<const S*>(s.in);
  const int t = threadIdx.x;
  for (int64_t o = blockIdx.x; o < s.outer_numel; o += gridDim.x) {
    slots[t] = reduce_strided<T>(s, op, in, outer_offset(s, o), t, kReduceThreads);
    __syncthreads();
    for (int half = kReduceThreads / 2; half > 0; half /= 2) {
      if (t < half) tree_step(op, slots, t, half);
      __syncthreads();
    }
    if (t == 0) emit<Out>(s, op, o, slots[0]);
    __syncthreads();
  }
}

// Column walk: a block of kColX x kColY threads takes kColX neighbouring outputs and one chunk
// of their inner elements; thread (x, y) folds elements y, y + kColY, ... of the chunk for
// output x (a warp reads kColX neighbouring values), then a fixed tree over y. With several
// chunks, their results go to scratch and a second kernel folds them in chunk order.
constexpr int kColX = 32, kColY = 8;

template <typename T, typename Out, typename Op, typename S>
__global__ void __launch_bounds__(kColX * kColY)
    reduce_cols_dev(ReduceSpec s, Op op, int64_t chunk, typename Op::acc_t* partial) {
  using acc_t = typename Op::acc_t;
  __shared__ acc_t slots[kColY][kColX];
  const S* in = reinterpret_cast<const S*>(s.in);
  const int x = threadIdx.x, y = threadIdx.y;
  const int64_t o = int64_t(blockIdx.x) * kColX + x;
  const int64_t i0 = int64_t(blockIdx.y) * chunk;
  const int64_t i1 = i0 + chunk < s.inner_numel ? i0 + chunk : s.inner_numel;
  acc_t a = op.init();
  if (o < s.outer_numel) {
    const int64_t base = outer_offset(s, o);
    auto at = [&](int64_t i) { return load_as<T>(in[base + inner_offset(s, i)]); };
    int64_t i = i0 + y;
    for (; i + 3 * kColY < i1; i += 4 * kColY) {  // four loads in flight, folded in order
      const T x0 = at(i), x1 = at(i + kColY), x2 = at(i + 2 * kColY), x3 = at(i + 3 * kColY);
      op.step(a, x0, i);
      op.step(a, x1, i + kColY);
      op.step(a, x2, i + 2 * kColY);
      op.step(a, x3, i + 3 * kColY);
    }
    for (; i < i1; i += kColY) op.step(a, at(i), i);
  }
  slots[y][x] = a;
  __syncthreads();
  for (int half = kColY / 2; half > 0; half /= 2) {
    if (y < half) op.combine(slots[y][x], slots[y + half][x]);
    __syncthreads();
  }
  if (y == 0 && o < s.outer_numel) {
    if (partial) partial[blockIdx.y * s.outer_numel + o] = slots[0][x];
    else emit<Out>(s, op, o, slots[0][x]);
  }
}

template <typename Out, typename Op>
__global__ void reduce_chunks_dev(ReduceSpec s, Op op, int64_t chunks,
                                  const typename Op::acc_t* partial) {
  RV_GRID_STRIDE(o, s.outer_numel) {
    typename Op::acc_t a = partial[o];
    for (int64_t c = 1; c < chunks; ++c) op.combine(a, partial[c * s.outer_numel + o]);
    emit<Out>(s, op, o, a);
  }
}

// Whether the outputs are contiguous in the input and the reduced elements are not (column
// sums such as a bias gradient).
bool is_column_reduction(const ReduceSpec& s) {
  return s.nouter > 0 && s.outer_strides[s.nouter - 1] == 1 && s.ninner > 0 &&
         s.inner_strides[s.ninner - 1] != 1;
}

// Inner chunks of the column walk: enough blocks to fill a large GPU (about kColBlocks), at
// least kColMinChunk elements each; from the sizes only (Note [Deterministic CUDA reductions]).
constexpr int64_t kColBlocks = 2048, kColMinChunk = 64;
int64_t column_chunks(const ReduceSpec& s) {
  const int64_t col_blocks = (s.outer_numel + kColX - 1) / kColX;
  const int64_t want = (kColBlocks + col_blocks - 1) / col_blocks;
  const int64_t most = (s.inner_numel + kColMinChunk - 1) / kColMinChunk;
  return std::max<int64_t>(1, std::min(want, most));
}

template <typename T, typename Out, typename Op, typename S>
void launch_columns(const ReduceSpec& s, const Op& op) {
  using acc_t = typename Op::acc_t;
  const int64_t chunks = column_chunks(s);
  const int64_t chunk = (s.inner_numel + chunks - 1) / chunks;
  const dim3 grid(unsigned((s.outer_numel + kColX - 1) / kColX), unsigned(chunks));
  if (chunks == 1) {
    reduce_cols_dev<T, Out, Op, S><<<grid, dim3(kColX, kColY)>>>(s, op, chunk, nullptr);
    RV_CUDA_CHECK(cudaGetLastError());
    return;
  }
  ScratchBuffer partial(size_t(chunks * s.outer_numel) * sizeof(acc_t));
  reduce_cols_dev<T, Out, Op, S><<<grid, dim3(kColX, kColY)>>>(s, op, chunk,
                                                               partial.as<acc_t>());
  RV_CUDA_CHECK(cudaGetLastError());
  reduce_chunks_dev<Out, Op><<<grid_for(s.outer_numel), kThreads>>>(s, op, chunks,
                                                                     partial.as<acc_t>());
  RV_CUDA_CHECK(cudaGetLastError());
}

template <typename T, typename Out, typename Op, typename S = T>
void launch(const ReduceSpec& s, const Op& op) {
  if (s.inner_numel <= 32) {
    reduce_thread_dev<T, Out, Op, S><<<grid_for(s.outer_numel), kThreads>>>(s, op);
  } else if (is_column_reduction(s) && s.outer_numel <= 65535 * kColX) {
    return launch_columns<T, Out, Op, S>(s, op);
  } else {
    int64_t blocks = s.outer_numel < 65535 * 4 ? s.outer_numel : 65535 * 4;
    reduce_block_dev<T, Out, Op, S><<<unsigned(blocks), kReduceThreads>>>(s, op);
  }
  RV_CUDA_CHECK(cudaGetLastError());
}

template <typename T> constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::Float32;
  else if constexpr (std::is_same_v<T, double>) return DType::Float64;
  else if constexpr (std::is_same_v<T, int64_t>) return DType::Int64;
  else if constexpr (std::is_same_v<T, int32_t>) return DType::Int32;
  else if constexpr (std::is_same_v<T, uint8_t>) return DType::UInt8;
  else return DType::Bool;
}

// The output dtypes the op layer asks for (the CPU kernel's pairs).
template <typename T, bool kLogic = false, typename Op>
void run_with_out(const ReduceSpec& s, const Op& op, const char* name) {
  if constexpr (kLogic) {
    if (s.out_dtype == DType::Bool) return launch<T, bool>(s, op);
    if (s.out_dtype == DType::UInt8) return launch<T, uint8_t>(s, op);
  } else {
    if (s.out_dtype == dtype_of<T>()) return launch<T, T>(s, op);
    if constexpr (!std::is_floating_point_v<T>) {
      if (s.out_dtype == DType::Int64) return launch<T, int64_t>(s, op);
    }
  }
  throw_unsupported_dtype(name, s.out_dtype);
}

template <typename F>
void dispatch_in(DType t, const char* name, F&& f) {
  switch (t) {
    case DType::Float32: return f(TypeTag<float>{});
    case DType::Float64: return f(TypeTag<double>{});
    case DType::Int64: return f(TypeTag<int64_t>{});
    case DType::Int32: return f(TypeTag<int32_t>{});
    case DType::UInt8: return f(TypeTag<uint8_t>{});
    case DType::Bool: return f(TypeTag<bool>{});
    default: throw_unsupported_dtype(name, t);
  }
}

void reduce_cuda(ReduceOp op, const ReduceSpec& s) {
  if (s.outer_numel == 0) return;
  static const char* const names[] = {"sum", "prod", "max", "min", "all", "any", "norm"};
  const char* name = names[int(op)];
  if (is_reduced_float(s.in_dtype)) {  // sums of 16-bit floats (Note [16-bit operands])
    RV_CHECK(op == ReduceOp::Sum && s.out_dtype == DType::Float32, name,
             " (CUDA): a float16 / bfloat16 input is only summed, into float32");
    if (s.in_dtype == DType::BFloat16) return launch<float, float, SumAcc<float>, DBf16>(s, {});
    return launch<float, float, SumAcc<float>, DHalf>(s, {});
  }
  if (op == ReduceOp::Norm) {
    if (s.in_dtype == DType::Float32)
      return run_with_out<float>(s, NormAcc<float>{norm_mode(s.p), s.p}, name);
    if (s.in_dtype == DType::Float64)
      return run_with_out<double>(s, NormAcc<double>{norm_mode(s.p), s.p}, name);
    throw_unsupported_dtype(name, s.in_dtype);
  }
  dispatch_in(s.in_dtype, name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op) {
      case ReduceOp::Sum: return run_with_out<T>(s, SumAcc<T>{}, name);
      case ReduceOp::Prod: return run_with_out<T>(s, ProdAcc<T>{}, name);
      case ReduceOp::Max:
        if (s.indices) return run_with_out<T>(s, ExtremeAcc<T, true>{}, name);
        return run_with_out<T>(s, ValueExtremeAcc<T, true>{}, name);
      case ReduceOp::Min:
        if (s.indices) return run_with_out<T>(s, ExtremeAcc<T, false>{}, name);
        return run_with_out<T>(s, ValueExtremeAcc<T, false>{}, name);
      case ReduceOp::All: return run_with_out<T, true>(s, LogicAcc<T, true>{}, name);
      case ReduceOp::Any: return run_with_out<T, true>(s, LogicAcc<T, false>{}, name);
      default: throw_unsupported_dtype(name, s.in_dtype);
    }
  });
}

}  // namespace

void register_reduce_cuda() { reduce_kernel.set(DeviceType::CUDA, &reduce_cuda); }

}  // namespace ranvier::cuda
