// Generator: a seeded source of Philox random numbers. Its state is (seed, offset); each request
// for n numbers reserves a range of counter blocks and advances the offset, so the numbers do
// not depend on the thread count (Note [Random numbers]: element i of a request uses block
// offset + i / per_block; see kernels/common/philox.h).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>

namespace ranvier {

class Generator {
 public:
  explicit Generator(uint64_t seed = kDefaultSeed) : seed_(seed) {}
  static constexpr uint64_t kDefaultSeed = 67280421310721ull;

  void manual_seed(uint64_t seed);
  uint64_t initial_seed() const;
  // A fresh seed from the OS; returns it.
  uint64_t seed();
  // Reserves `blocks` counter blocks; returns (seed, first block).
  std::pair<uint64_t, uint64_t> reserve(uint64_t blocks);
  uint64_t offset() const;
  void set_state(uint64_t seed, uint64_t offset);
  // A random uint64 drawn from the stream (for host-side algorithms like randperm).
  uint64_t next_u64();

 private:
  mutable std::mutex mu_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The default CPU generator (ranvier.manual_seed seeds it).
std::shared_ptr<Generator> default_generator();

}  // namespace ranvier
