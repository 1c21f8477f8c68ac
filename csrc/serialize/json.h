// A small, strict JSON reader and string writer for safetensors headers (RFC 8259 only: no
// NaN/Infinity, no comments, no trailing commas, no duplicate object keys, UTF-8 checked).
// Integers without a fraction or exponent are kept exactly as int64; other numbers as double.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ranvier::serialize::json {

struct Value {
  enum class Kind { Null, Bool, Int, Float, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0.0;
  std::string string;
  std::vector<Value> items;                             // Array
  std::vector<std::pair<std::string, Value>> members;  // Object, in file order

  // The member named key of an object, or nullptr.
  const Value* find(const std::string& key) const;
  // "object", "array", "string", ... for error messages.
  const char* kind_name() const;
};

// Parses exactly one JSON value (surrounded by optional whitespace) from data[0, size).
// Throws ranvier::Error (ValueError) saying what is wrong and at which byte offset.
// Nesting deeper than max_depth is refused (no unbounded recursion on hostile input).
Value parse(const char* data, size_t size, int max_depth = 64);

// Whether s is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool is_valid_utf8(const std::string& s);

// s as a JSON string literal (with quotes); control characters, '"' and '\' escaped.
// Throws ValueError if s is not valid UTF-8.
std::string quote(const std::string& s);

}  // namespace ranvier::serialize::json
