// Generator (see generator.h).
#include "core/generator.h"

#include <random>

#include "kernels/common/philox.h"

namespace ranvier {

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> g(mu_);
  seed_ = seed;
  offset_ = 0;
}

uint64_t Generator::initial_seed() const {
  std::lock_guard<std::mutex> g(mu_);
  return seed_;
}

uint64_t Generator::seed() {
  std::random_device rd;
  uint64_t s = (uint64_t(rd()) << 32) ^ uint64_t(rd());
  manual_seed(s);
  return s;
}

std::pair<uint64_t, uint64_t> Generator::reserve(uint64_t blocks) {
  std::lock_guard<std::mutex> g(mu_);
  uint64_t first = offset_;
  offset_ += blocks;
  return {seed_, first};
}

uint64_t Generator::offset() const {
  std::lock_guard<std::mutex> g(mu_);
  return offset_;
}

void Generator::set_state(uint64_t seed, uint64_t offset) {
  std::lock_guard<std::mutex> g(mu_);
  seed_ = seed;
  offset_ = offset;
}

uint64_t Generator::next_u64() {
  auto [s, b] = reserve(1);
  Philox4 r = philox4x32_10(s, b);
  return (uint64_t(r.v[0]) << 32) | r.v[1];
}

std::shared_ptr<Generator> default_generator() {
  static std::shared_ptr<Generator> g = std::make_shared<Generator>();
  return g;
}

}  // namespace ranvier
