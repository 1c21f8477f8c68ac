// OpenBLAS glue: its threads run inside our OpenMP pool (NOTES.md: alternating two pools
// cost 1.6x), and set_num_threads sets its thread count too.
#include <cblas.h>

#include "core/parallel.h"

namespace ranvier {

namespace {
void openblas_omp_callback(int sync, openblas_dojob_callback dojob, int numjobs,
                           size_t jobdata_elsize, void* jobdata, int dojob_data) {
  (void)sync;
  char* data = static_cast<char*>(jobdata);
#pragma omp parallel for schedule(static)
  for (int i = 0; i < numjobs; ++i) dojob(i, data + size_t(i) * jobdata_elsize, dojob_data);
}
}  // namespace

void set_blas_num_threads(int n) { scipy_openblas_set_num_threads(n); }

void init_blas() {
  scipy_openblas_set_threads_callback_function(&openblas_omp_callback);
  scipy_openblas_set_num_threads(get_num_threads());
}

}  // namespace ranvier
