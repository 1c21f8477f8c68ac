// Out-of-line thrower so that the RV_CHECK fast path stays small.
#include "core/error.h"

namespace ranvier {
void throw_error(ErrorKind kind, const std::string& msg) { throw Error(kind, msg); }
}  // namespace ranvier
