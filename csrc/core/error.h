// Typed errors thrown by the library and the RV_CHECK macros that raise them.
// The Python binding translates each ErrorKind to the Python exception of the same name.
// Note [No aborts]: user errors always throw; RV_INTERNAL_ASSERT marks a broken invariant
// (a bug in ranvier) and throws RuntimeError too, never aborts.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ranvier {

enum class ErrorKind { Runtime, Value, Type, Index, NotImplemented };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

namespace detail {
inline void str_append(std::ostringstream&) {}
template <typename T, typename... Rest>
void str_append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  str_append(os, rest...);
}
}  // namespace detail

// Concatenates anything streamable into a string.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::str_append(os, args...);
  return os.str();
}

[[noreturn]] void throw_error(ErrorKind kind, const std::string& msg);

}  // namespace ranvier

#define RV_CHECK_KIND(kind, cond, ...)                                        \
  do {                                                                        \
    if (__builtin_expect(!(cond), 0))                                         \
      ::ranvier::throw_error(kind, ::ranvier::str_cat(__VA_ARGS__));          \
  } while (0)

#define RV_CHECK(cond, ...) RV_CHECK_KIND(::ranvier::ErrorKind::Runtime, cond, __VA_ARGS__)
#define RV_CHECK_VALUE(cond, ...) RV_CHECK_KIND(::ranvier::ErrorKind::Value, cond, __VA_ARGS__)
#define RV_CHECK_TYPE(cond, ...) RV_CHECK_KIND(::ranvier::ErrorKind::Type, cond, __VA_ARGS__)
#define RV_CHECK_INDEX(cond, ...) RV_CHECK_KIND(::ranvier::ErrorKind::Index, cond, __VA_ARGS__)
#define RV_CHECK_NOT_IMPLEMENTED(cond, ...) \
  RV_CHECK_KIND(::ranvier::ErrorKind::NotImplemented, cond, __VA_ARGS__)
#define RV_INTERNAL_ASSERT(cond, ...)                                                    \
  RV_CHECK_KIND(::ranvier::ErrorKind::Runtime, cond, "internal error in ranvier at ", \
                __FILE__, ":", __LINE__, ": ", #cond, " ", ##__VA_ARGS__)
