// safetensors files: write named tensors plus string metadata, read them back with every field
// validated. Layout: 8-byte little-endian header length N, N bytes of JSON header
// {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}},
// then the raw little-endian tensor bytes (offsets relative to the end of the header).
// Note [Atomic save]: save_safetensors writes a temporary file in the target's folder, fsyncs
// it, renames it over the target and fsyncs the folder, so a failure or a kill at any moment
// leaves either the old file or the new one, never a mix.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace ranvier::serialize {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

// What a file holds: tensors in header order (each owns its memory) and the metadata.
struct SafetensorsData {
  NamedTensors tensors;
  Metadata metadata;
  // The tensor called name; ValueError listing nothing else if there is none.
  Tensor get(const std::string& name) const;
  bool contains(const std::string& name) const;
};

// An operating-system failure (open, write, fsync, rename ...): a RuntimeError that also carries
// errno and the path, so bindings can raise the matching OSError subclass.
class IoError : public Error {
 public:
  IoError(const std::string& msg, int error_number, std::string path)
      : Error(ErrorKind::Runtime, msg), errno_(error_number), path_(std::move(path)) {}
  int error_number() const { return errno_; }
  const std::string& path() const { return path_; }

 private:
  int errno_;
  std::string path_;
};

// The safetensors dtype code ("F32", "BF16", "BOOL", ...) of a ranvier dtype.
const char* safetensors_dtype_name(DType t);

// Writes tensors (CPU; any strides: non-contiguous ones are written as contiguous copies) in the
// given order with metadata to path, atomically (Note [Atomic save]). Names must be unique and
// not "__metadata__"; ValueError otherwise. OS failures throw IoError; the target is untouched.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const Metadata& metadata = {});
// The same file contents as a byte string.
std::string save_safetensors_bytes(const NamedTensors& tensors, const Metadata& metadata = {});

// Reads a safetensors file. Every problem (truncation, header length, JSON syntax, unknown
// dtype, negative or oversized shape, offsets out of range / overlapping / leaving gaps, byte
// count != numel * itemsize, bool bytes other than 0/1) throws ValueError naming the file.
SafetensorsData load_safetensors(const std::string& path);
// The same from bytes in memory; `source` names them in error messages.
SafetensorsData load_safetensors_bytes(const void* data, size_t size,
                                       const std::string& source = "<bytes>");

}  // namespace ranvier::serialize
