// Whole float32 GEMMs on the packed-panel micro-kernel of gemm_packed.h, for the shapes where it
// beats OpenBLAS on AVX-512 machines: row-major A read in place (no packing), B packed into
// panels of kPackNr columns per call, bias rows added in the tile store. See gemm_panels.cpp.
#pragma once
#include <cstdint>

namespace ranvier {
struct GemmSpec;
}

namespace ranvier::cpu {

// Runs s and returns true when the panel path takes it (float32, one matrix, alpha 1, beta 0 or
// 1, A's rows contiguous, an AVX-512 CPU, large enough); returns false, touching nothing, when
// OpenBLAS should run it instead.
bool gemm_panels_f32(const GemmSpec& s);

// C = op(A) @ op(B) (accumulate: C += that), all row-major with leading dimensions as in BLAS,
// on all threads (threaded) or on the calling thread alone (kernels that run many small
// products inside their own parallel loops). Returns false, touching nothing, where the panel
// path is not available (no AVX-512, switched off) or does not apply (a product under 8 in any
// dim, or A over 2 MB); the caller then uses OpenBLAS.
bool gemm_panels_blas_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a,
                          int64_t lda, const float* b, int64_t ldb, bool accumulate, float* c,
                          int64_t ldc, bool threaded);

// Whether the panel path is used at all (on by default where the CPU has AVX-512); tests and
// benchmarks switch it off to compare with OpenBLAS. Returns the previous setting.
bool set_gemm_panels_enabled(bool on);

}  // namespace ranvier::cpu
