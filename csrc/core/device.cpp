// Device names and parsing.
#include "core/device.h"

#include "core/error.h"

namespace ranvier {

const char* device_type_name(DeviceType t) { return t == DeviceType::CPU ? "cpu" : "cuda"; }

std::string Device::str() const {
  if (type == DeviceType::CPU) return "cpu";
  return str_cat("cuda:", index);
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device(DeviceType::CPU);
  if (s == "cuda") return Device(DeviceType::CUDA, 0);
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5) {
    int idx = 0;
    for (size_t i = 5; i < s.size(); ++i) {
      RV_CHECK_VALUE(s[i] >= '0' && s[i] <= '9', "invalid device string: '", s, "'");
      idx = idx * 10 + (s[i] - '0');
    }
    return Device(DeviceType::CUDA, idx);
  }
  if (s.rfind("cpu:", 0) == 0) return Device(DeviceType::CPU);
  throw_error(ErrorKind::Value, str_cat("invalid device string: '", s,
                                        "' (expected 'cpu', 'cuda' or 'cuda:N')"));
}

}  // namespace ranvier
