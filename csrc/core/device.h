// Device: a type (CPU or CUDA) and an index. Kernel slot tables are indexed by DeviceType.
#pragma once
#include <cstdint>
#include <string>

namespace ranvier {

enum class DeviceType : int8_t { CPU = 0, CUDA = 1 };
constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int16_t index = 0;
  Device() = default;
  Device(DeviceType t, int idx = 0) : type(t), index(int16_t(idx)) {}
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;  // "cpu", "cuda:0"
};

// Parses "cpu", "cuda", "cuda:1"; throws ValueError otherwise.
Device parse_device(const std::string& s);
const char* device_type_name(DeviceType t);

}  // namespace ranvier
