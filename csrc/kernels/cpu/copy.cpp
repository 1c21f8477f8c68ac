// CPU kernels for dtype-converting copies and fills (all dtypes, incl. float16/bfloat16).
#include "ops/copy.h"

#include <cstring>
#include <type_traits>

#include "kernels/common/macros.h"
#include "kernels/cpu/loops.h"

namespace ranvier::cpu {

namespace {

template <typename To, typename From>
RV_INLINE To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) return static_cast<float>(v) != 0.0f || v != From(0);
  else if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>)
    return static_cast<To>(static_cast<float>(v));
  else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>)
    return To(static_cast<float>(v));
  else
    return static_cast<To>(v);
}

template <typename To, typename From>
void cast_rows(const LoopSpec& s) {
  for_each_row(s, [](char** p, const int64_t* st, int64_t n) {
    To* o = reinterpret_cast<To*>(p[0]);
    const From* a = reinterpret_cast<const From*>(p[1]);
    if (st[0] == 1 && st[1] == 1) {
      if constexpr (std::is_same_v<To, From>) {
        std::memcpy(o, a, size_t(n) * sizeof(To));
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = convert<To>(a[i]);
      }
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = convert<To>(a[i * st[1]]);
    }
  });
}

void cast_cpu(const LoopSpec& s) {
  RV_DISPATCH_ALL(s.dtypes[0], "copy_", [&] {
    using To = scalar_t;
    RV_DISPATCH_ALL(s.dtypes[1], "copy_", [&] { cast_rows<To, scalar_t>(s); });
  });
}

void fill_cpu(const LoopSpec& s, const Scalar& v) {
  RV_DISPATCH_ALL(s.dtypes[0], "fill_", [&] {
    scalar_t value;
    if constexpr (std::is_same_v<scalar_t, Half> || std::is_same_v<scalar_t, BFloat16>)
      value = scalar_t(float(v.to_double()));
    else if constexpr (std::is_floating_point_v<scalar_t>)
      value = scalar_t(v.to_double());
    else if constexpr (std::is_same_v<scalar_t, bool>)
      value = v.to_bool();
    else
      value = v.is_floating() ? scalar_t(v.to_double()) : scalar_t(v.to_int());
    for_each_row(s, [value](char** p, const int64_t* st, int64_t n) {
      scalar_t* o = reinterpret_cast<scalar_t*>(p[0]);
      if (st[0] == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = value;
      } else {
        for (int64_t i = 0; i < n; ++i) o[i * st[0]] = value;
      }
    });
  });
}

}  // namespace

void register_copy_cpu() {
  cast_kernel.set(DeviceType::CPU, &cast_cpu);
  fill_kernel.set(DeviceType::CPU, &fill_cpu);
}

}  // namespace ranvier::cpu
