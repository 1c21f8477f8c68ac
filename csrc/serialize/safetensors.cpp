// The safetensors writer (header JSON, padding, atomic file replacement) and the validating
// reader (pread from a file, or memcpy from bytes, into tensors that own their memory).
#include "serialize/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "ops/copy.h"
#include "serialize/json.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the safetensors reader/writer assumes a little-endian host");

namespace ranvier::serialize {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;  // as the reference implementation

struct DTypeCode {
  const char* code;
  DType dtype;
};
const DTypeCode kCodes[] = {
    {"F32", DType::Float32}, {"F64", DType::Float64}, {"F16", DType::Float16},
    {"BF16", DType::BFloat16}, {"I64", DType::Int64}, {"I32", DType::Int32},
    {"U8", DType::UInt8}, {"BOOL", DType::Bool},
};
// Codes the format defines that ranvier has no dtype for (named in the error).
const char* const kUnsupportedCodes[] = {"I8", "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2",
                                         "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};

[[noreturn]] void bad_file(const std::string& source, const std::string& what) {
  throw_error(ErrorKind::Value, str_cat("invalid safetensors file '", source, "': ", what));
}

[[noreturn]] void io_fail(const std::string& what, const std::string& path, int err) {
  throw IoError(str_cat(what, " '", path, "': ", std::strerror(err)), err, path);
}

// ---- writing ----------------------------------------------------------------------------------

struct Prepared {
  std::vector<Tensor> data;  // contiguous CPU tensors, in order
  std::string prefix;        // 8-byte length + padded header
  uint64_t total = 0;        // file size
};

Prepared prepare(const NamedTensors& tensors, const Metadata& metadata) {
  Prepared p;
  std::vector<std::string> names;
  names.reserve(tensors.size());
  for (const auto& nt : tensors) {
    const std::string& name = nt.first;
    const Tensor& t = nt.second;
    RV_CHECK_VALUE(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
    RV_CHECK_VALUE(name != "__metadata__",
                   "save_safetensors: '__metadata__' is reserved and cannot name a tensor");
    names.push_back(name);
    Tensor h = to_device(detach(t), Device());  // a CUDA tensor is saved from a host copy
    p.data.push_back(h.is_contiguous() ? h : contiguous_clone(h));
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); ++i)
    RV_CHECK_VALUE(sorted[i] != sorted[i - 1], "save_safetensors: two tensors are named '",
                   sorted[i], "'");

  std::string h = "{";
  bool first = true;
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    for (const auto& kv : metadata) {
      if (!first) h += ',';
      first = false;
      h += json::quote(kv.first) + ":" + json::quote(kv.second);
    }
    h += "}";
    first = false;
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const Tensor& t = p.data[i];
    uint64_t nbytes = uint64_t(t.numel()) * t.element_size();
    if (!first) h += ',';
    first = false;
    h += json::quote(names[i]) + ":{\"dtype\":\"" + safetensors_dtype_name(t.dtype()) +
         "\",\"shape\":[";
    for (int64_t d = 0; d < t.dim(); ++d) h += (d ? "," : "") + std::to_string(t.size(d));
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," +
         std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
  }
  h += "}";
  while (h.size() % 8 != 0) h += ' ';
  uint64_t n = h.size();
  p.prefix.resize(8);
  std::memcpy(&p.prefix[0], &n, 8);
  p.prefix += h;
  p.total = p.prefix.size() + offset;
  return p;
}

void write_fd(int fd, const void* data, size_t n, const std::string& path) {
  const char* c = static_cast<const char*>(data);
  while (n > 0) {
    size_t chunk = std::min<size_t>(n, size_t(1) << 30);
    ssize_t w = ::write(fd, c, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      io_fail("could not write", path, errno);
    }
    if (w == 0) io_fail("could not write", path, EIO);
    c += w;
    n -= size_t(w);
  }
}

std::string dir_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ---- reading ----------------------------------------------------------------------------------

class Source {
 public:
  explicit Source(std::string name) : name_(std::move(name)) {}
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly n bytes at off, or fails naming the file.
  virtual void read(void* dst, size_t n, uint64_t off) const = 0;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

class MemorySource : public Source {
 public:
  MemorySource(const void* data, size_t size, std::string name)
      : Source(std::move(name)), data_(static_cast<const char*>(data)), size_(size) {}
  uint64_t size() const override { return size_; }
  void read(void* dst, size_t n, uint64_t off) const override {
    if (off > size_ || n > size_ - off) bad_file(name(), "unexpected end of data");
    if (n) std::memcpy(dst, data_ + off, n);
  }

 private:
  const char* data_;
  size_t size_;
};

class FileSource : public Source {
 public:
  explicit FileSource(const std::string& path) : Source(path) {
    do {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) io_fail("could not open", path, errno);
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
      int err = errno;
      ::close(fd_);
      io_fail("could not stat", path, err);
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd_);
      io_fail("could not read", path, EISDIR);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      bad_file(path, "not a regular file");
    }
    size_ = uint64_t(st.st_size);
  }
  ~FileSource() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  void read(void* dst, size_t n, uint64_t off) const override {
    char* c = static_cast<char*>(dst);
    while (n > 0) {
      size_t chunk = std::min<size_t>(n, size_t(1) << 30);
      ssize_t r = ::pread(fd_, c, chunk, off_t(off));
      if (r < 0) {
        if (errno == EINTR) continue;
        io_fail("could not read", name(), errno);
      }
      if (r == 0) bad_file(name(), "the file ended early (was it truncated while being read?)");
      c += r;
      n -= size_t(r);
      off += uint64_t(r);
    }
  }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

DType parse_dtype(const json::Value& v, const Source& src, const std::string& name) {
  if (v.kind != json::Value::Kind::String)
    bad_file(src.name(), str_cat("tensor '", name, "': dtype must be a string, got ", v.kind_name()));
  for (const auto& c : kCodes)
    if (v.string == c.code) return c.dtype;
  for (const char* c : kUnsupportedCodes)
    if (v.string == c)
      bad_file(src.name(), str_cat("tensor '", name, "' has dtype ", c,
                                   ", which ranvier does not support"));
  bad_file(src.name(), str_cat("tensor '", name, "' has an unknown dtype '", v.string, "'"));
}

uint64_t parse_offset(const json::Value& v, const Source& src, const std::string& name) {
  if (v.kind != json::Value::Kind::Int || v.integer < 0)
    bad_file(src.name(), str_cat("tensor '", name,
                                 "': data_offsets must be non-negative integers"));
  return uint64_t(v.integer);
}

Entry parse_entry(const std::string& name, const json::Value& v, const Source& src) {
  if (v.kind != json::Value::Kind::Object)
    bad_file(src.name(), str_cat("tensor '", name, "': expected an object, got ", v.kind_name()));
  for (const auto& m : v.members)
    if (m.first != "dtype" && m.first != "shape" && m.first != "data_offsets")
      bad_file(src.name(), str_cat("tensor '", name, "': unexpected field '", m.first, "'"));
  const json::Value* dt = v.find("dtype");
  const json::Value* sh = v.find("shape");
  const json::Value* off = v.find("data_offsets");
  if (!dt || !sh || !off)
    bad_file(src.name(), str_cat("tensor '", name, "': missing ",
                                 !dt ? "dtype" : (!sh ? "shape" : "data_offsets")));
  Entry e;
  e.name = name;
  e.dtype = parse_dtype(*dt, src, name);
  if (sh->kind != json::Value::Kind::Array)
    bad_file(src.name(), str_cat("tensor '", name, "': shape must be an array"));
  if (sh->items.size() > size_t(kMaxDims))
    bad_file(src.name(), str_cat("tensor '", name, "' has ", sh->items.size(),
                                 " dimensions; ranvier supports at most ", kMaxDims));
  uint64_t numel = 1, nonzero_product = 1;
  for (const auto& d : sh->items) {
    if (d.kind != json::Value::Kind::Int || d.integer < 0)
      bad_file(src.name(), str_cat("tensor '", name, "': shape entries must be non-negative "
                                   "integers"));
    e.shape.push_back(d.integer);
    uint64_t s = uint64_t(d.integer);
    numel *= s;
    if (s == 0) continue;
    if (nonzero_product > uint64_t(INT64_MAX) / s)  // strides would overflow even if numel is 0
      bad_file(src.name(), str_cat("tensor '", name, "' has a shape too large for int64: ",
                                   shape_str(e.shape)));
    nonzero_product *= s;
  }
  if (off->kind != json::Value::Kind::Array || off->items.size() != 2)
    bad_file(src.name(), str_cat("tensor '", name, "': data_offsets must be [begin, end]"));
  e.begin = parse_offset(off->items[0], src, name);
  e.end = parse_offset(off->items[1], src, name);
  if (e.end < e.begin)
    bad_file(src.name(), str_cat("tensor '", name, "': data_offsets end ", e.end,
                                 " is before begin ", e.begin));
  const uint64_t item = element_size(e.dtype);
  if (numel > UINT64_MAX / item || numel * item != e.end - e.begin)
    bad_file(src.name(), str_cat("tensor '", name, "' of shape ", shape_str(e.shape), " and dtype ",
                                 dt->string, " needs ", numel > UINT64_MAX / item
                                 ? std::string("too many") : std::to_string(numel * item),
                                 " bytes but data_offsets give ", e.end - e.begin));
  return e;
}

SafetensorsData read_all(const Source& src) {
  const uint64_t size = src.size();
  if (size < 8)
    bad_file(src.name(), str_cat("it is ", size, " bytes long, too short for the 8-byte header "
                                 "length (truncated?)"));
  uint64_t n = 0;
  src.read(&n, 8, 0);
  if (n > size - 8)
    bad_file(src.name(), str_cat("the header length is ", n, " bytes but only ", size - 8,
                                 " bytes follow (truncated or not a safetensors file?)"));
  if (n > kMaxHeaderBytes)
    bad_file(src.name(), str_cat("the header length ", n, " exceeds the limit of ",
                                 kMaxHeaderBytes, " bytes"));
  if (n < 2) bad_file(src.name(), "the header is too short to hold a JSON object");
  std::string text(n, '\0');
  src.read(&text[0], n, 8);
  if (text[0] != '{') bad_file(src.name(), "the header does not start with '{'");
  json::Value header;
  try {
    header = json::parse(text.data(), text.size(), 8);
  } catch (const Error& e) {
    bad_file(src.name(), str_cat("header: ", e.what()));
  }
  if (header.kind != json::Value::Kind::Object) bad_file(src.name(), "the header is not an object");

  SafetensorsData out;
  std::vector<Entry> entries;
  for (const auto& m : header.members) {
    if (m.first == "__metadata__") {
      if (m.second.kind != json::Value::Kind::Object)
        bad_file(src.name(), "__metadata__ must be an object of strings");
      for (const auto& kv : m.second.members) {
        if (kv.second.kind != json::Value::Kind::String)
          bad_file(src.name(), str_cat("__metadata__ value of '", kv.first, "' is a ",
                                       kv.second.kind_name(), ", not a string"));
        out.metadata[kv.first] = kv.second.string;
      }
      continue;
    }
    entries.push_back(parse_entry(m.first, m.second, src));
  }

  // The data section must be covered exactly: sorted by offset, no gap, no overlap.
  const uint64_t data_size = size - 8 - n;
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expect = 0;
  for (const Entry* e : by_offset) {
    if (e->begin < expect)
      bad_file(src.name(), str_cat("tensor '", e->name, "' data_offsets [", e->begin, ", ", e->end,
                                   "] overlap another tensor's bytes"));
    if (e->begin > expect)
      bad_file(src.name(), str_cat("the bytes [", expect, ", ", e->begin,
                                   ") of the data section belong to no tensor"));
    if (e->end > data_size)
      bad_file(src.name(), str_cat("tensor '", e->name, "' data_offsets [", e->begin, ", ", e->end,
                                   "] go past the end of the data (", data_size,
                                   " bytes; truncated?)"));
    expect = e->end;
  }
  if (expect != data_size)
    bad_file(src.name(), str_cat("the data section is ", data_size, " bytes but the tensors cover ",
                                 expect, " (trailing bytes)"));

  const uint64_t base = 8 + n;
  for (const auto& e : entries) {
    Tensor t = empty(e.shape, e.dtype);
    size_t nbytes = size_t(e.end - e.begin);
    src.read(t.data_ptr(), nbytes, base + e.begin);
    if (e.dtype == DType::Bool) {
      const unsigned char* b = static_cast<const unsigned char*>(t.data_ptr());
      for (size_t i = 0; i < nbytes; ++i)
        if (b[i] > 1)
          bad_file(src.name(), str_cat("bool tensor '", e.name, "' holds the byte ", int(b[i]),
                                       " (only 0 and 1 are booleans)"));
    }
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace

Tensor SafetensorsData::get(const std::string& name) const {
  for (const auto& nt : tensors)
    if (nt.first == name) return nt.second;
  throw_error(ErrorKind::Value, str_cat("safetensors data has no tensor named '", name, "'"));
}

bool SafetensorsData::contains(const std::string& name) const {
  for (const auto& nt : tensors)
    if (nt.first == name) return true;
  return false;
}

const char* safetensors_dtype_name(DType t) {
  for (const auto& c : kCodes)
    if (c.dtype == t) return c.code;
  throw_unsupported_dtype("safetensors", t);
}

std::string save_safetensors_bytes(const NamedTensors& tensors, const Metadata& metadata) {
  Prepared p = prepare(tensors, metadata);
  std::string out;
  out.reserve(size_t(p.total));
  out += p.prefix;
  for (const Tensor& t : p.data)
    if (t.numel() > 0)
      out.append(static_cast<const char*>(t.data_ptr()), size_t(t.numel()) * t.element_size());
  return out;
}

void save_safetensors(const std::string& path_in, const NamedTensors& tensors,
                      const Metadata& metadata) {
  Prepared p = prepare(tensors, metadata);  // every ValueError before the file system is touched
  // Replace the file a symlink points to, not the link itself.
  std::string path = path_in;
  struct stat lst;
  if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) != nullptr) path = resolved;
  }
  const std::string dir = dir_of(path);
  static std::atomic<uint64_t> counter{0};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100; ++attempt) {  // a stale name left by a killed process
    tmp = dir + "/." + base_of(path) + ".tmp" + std::to_string(::getpid()) + "." +
          std::to_string(counter.fetch_add(1));
    do {
      fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0 || errno != EEXIST) break;
  }
  if (fd < 0) io_fail("could not create a temporary file for", path, errno);
  // An existing checkpoint keeps its permission bits; a new one gets 0666 minus the umask.
  struct stat old;
  if (::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode)) ::fchmod(fd, old.st_mode & 07777);
  try {
    write_fd(fd, p.prefix.data(), p.prefix.size(), path);
    for (const Tensor& t : p.data)
      write_fd(fd, t.data_ptr(), size_t(t.numel()) * t.element_size(), path);
    if (::fsync(fd) != 0) io_fail("could not fsync", path, errno);
    int rc = ::close(fd);
    fd = -1;
    if (rc != 0) io_fail("could not close", path, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) io_fail("could not rename over", path, errno);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // Make the rename itself durable (best effort: some file systems refuse fsync on folders).
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

SafetensorsData load_safetensors(const std::string& path) { return read_all(FileSource(path)); }

SafetensorsData load_safetensors_bytes(const void* data, size_t size, const std::string& source) {
  return read_all(MemorySource(data, size, source));
}

}  // namespace ranvier::serialize
