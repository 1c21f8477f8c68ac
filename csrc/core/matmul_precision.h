// The float32 matmul precision setting (PyTorch's set_float32_matmul_precision): "highest"
// computes float32 products in float32; "high" lets a backend use TF32 tensor cores; "medium"
// also lets it use bfloat16-based ones. Read by the CUDA GEMM (kernels/cuda/gemm.cu); the CPU
// kernels always compute in full float32. Set from Python through ranvier.backends.
#pragma once

namespace ranvier {

enum class MatmulPrecision : int { Highest = 0, High = 1, Medium = 2 };

MatmulPrecision float32_matmul_precision();
void set_float32_matmul_precision(MatmulPrecision p);

}  // namespace ranvier
