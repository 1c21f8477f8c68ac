// dtype names, sizes and PyTorch's type-promotion table.
#include "core/dtype.h"

namespace ranvier {

const char* dtype_name(DType t) {
  switch (t) {
#define RV_NAME(cpp, name, py, shortname) \
  case DType::name: return py;
    RV_FORALL_DTYPES(RV_NAME)
#undef RV_NAME
  }
  return "?";
}

const char* dtype_short_name(DType t) {
  switch (t) {
#define RV_SNAME(cpp, name, py, shortname) \
  case DType::name: return shortname;
    RV_FORALL_DTYPES(RV_SNAME)
#undef RV_SNAME
  }
  return "?";
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  // order of the table: f32 f64 f16 bf16 i64 i32 u8 b
  constexpr DType f4 = DType::Float32, f8 = DType::Float64, f2 = DType::Float16,
                  bf = DType::BFloat16, i8 = DType::Int64, i4 = DType::Int32, u1 = DType::UInt8,
                  b1 = DType::Bool;
  static constexpr DType table[kNumDTypes][kNumDTypes] = {
      /* f4 */ {f4, f8, f4, f4, f4, f4, f4, f4},
      /* f8 */ {f8, f8, f8, f8, f8, f8, f8, f8},
      /* f2 */ {f4, f8, f2, f4, f2, f2, f2, f2},
      /* bf */ {f4, f8, f4, bf, bf, bf, bf, bf},
      /* i8 */ {f4, f8, f2, bf, i8, i8, i8, i8},
      /* i4 */ {f4, f8, f2, bf, i8, i4, i4, i4},
      /* u1 */ {f4, f8, f2, bf, i8, i4, u1, u1},
      /* b1 */ {f4, f8, f2, bf, i8, i4, u1, b1},
  };
  return table[int(a)][int(b)];
}

void throw_unsupported_dtype(const char* op, DType t) {
  throw_error(ErrorKind::Type, str_cat(op, ": unsupported dtype ", dtype_name(t)));
}

}  // namespace ranvier
