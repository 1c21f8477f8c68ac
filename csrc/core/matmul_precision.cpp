// The float32 matmul precision setting (see matmul_precision.h): one process-wide value.
#include "core/matmul_precision.h"

#include <atomic>

namespace ranvier {

namespace {
std::atomic<int> g_precision{int(MatmulPrecision::Highest)};
}  // namespace

MatmulPrecision float32_matmul_precision() {
  return MatmulPrecision(g_precision.load(std::memory_order_relaxed));
}

void set_float32_matmul_precision(MatmulPrecision p) {
  g_precision.store(int(p), std::memory_order_relaxed);
}

}  // namespace ranvier
