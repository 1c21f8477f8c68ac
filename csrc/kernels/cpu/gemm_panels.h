// Whole float32 GEMMs on the packed-panel micro-kernel of gemm_packed.h, for the shapes where it
// beats OpenBLAS on AVX-512 machines: row-major A read in place (no packing), B packed into
// panels of kPackNr columns per call, bias rows added in the tile store. See gemm_panels.cpp.
#pragma once
#include "ops/matmul.h"

namespace ranvier::cpu {

// Runs s and returns true when the panel path takes it (float32, one matrix, alpha 1, beta 0 or
// 1, A's rows contiguous, an AVX-512 CPU, large enough); returns false, touching nothing, when
// OpenBLAS should run it instead.
bool gemm_panels_f32(const GemmSpec& s);

// Whether the panel path is used at all (on by default where the CPU has AVX-512); tests and
// benchmarks switch it off to compare with OpenBLAS. Returns the previous setting.
bool set_gemm_panels_enabled(bool on);

}  // namespace ranvier::cpu
