// Scalar: a Python-style number (bool, int64 or double) passed to ops by value.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace ranvier {

class Scalar {
 public:
  enum class Kind : int8_t { Bool, Int, Float };
  Scalar() : kind_(Kind::Int), i_(0) {}
  Scalar(double v) : kind_(Kind::Float), d_(v) {}
  Scalar(float v) : kind_(Kind::Float), d_(v) {}
  Scalar(int64_t v) : kind_(Kind::Int), i_(v) {}
  Scalar(int v) : kind_(Kind::Int), i_(v) {}
  Scalar(bool v) : kind_(Kind::Bool), i_(v ? 1 : 0) {}

  Kind kind() const { return kind_; }
  bool is_floating() const { return kind_ == Kind::Float; }
  bool is_integral() const { return kind_ == Kind::Int; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  double to_double() const { return kind_ == Kind::Float ? d_ : double(i_); }
  int64_t to_int() const { return kind_ == Kind::Float ? int64_t(d_) : i_; }
  bool to_bool() const { return kind_ == Kind::Float ? d_ != 0.0 : i_ != 0; }
  template <typename T> T to() const {
    if constexpr (std::is_same_v<T, bool>) return to_bool();
    else if constexpr (std::is_integral_v<T>) return static_cast<T>(to_int());
    else return static_cast<T>(float(to_double()));
  }
  // The dtype a tensor made from this scalar gets: bool, int64, or the default float.
  DType default_dtype() const {
    return kind_ == Kind::Bool ? DType::Bool : (kind_ == Kind::Int ? DType::Int64 : DType::Float32);
  }

 private:
  Kind kind_;
  union {
    int64_t i_;
    double d_;
  };
};

template <> inline double Scalar::to<double>() const { return to_double(); }

}  // namespace ranvier
