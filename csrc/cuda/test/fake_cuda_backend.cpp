// A stand-in for libranvier_cuda that needs no GPU, for checking everything between Python
// and the kernels on a machine without one. It exports the same C entry points, so that
//   RANVIER_CUDA_LIBRARY=.../libranvier_fake_cuda.so python -X faulthandler -m pytest ...
// runs the CUDA tests with "CUDA" memory that is host memory handed out by the real caching
// allocator, every CUDA kernel slot holding that slot's CPU kernel, and memcpy as the
// cross-device copy. Test tool only: built by .ci/cuda_build_check, never installed.
//
// Note [Guarded stand-in memory]: the point of the stand-in is to catch code that reads or
// writes CUDA memory from the host (a CPU fast path that skips its kernel slot, a host reader
// such as item() on a CUDA tensor): on a GPU that code would crash or read garbage. So the
// stand-in's device memory comes from mmap and stays PROT_NONE except while a kernel runs or
// the stand-in's memcpy copies: every CUDA slot holds a trampoline (guarded<&slot>::call) that
// opens all device segments, calls the CPU kernel, and closes them again. Any other access
// faults; a SIGSEGV handler prints "CUDA memory touched outside a kernel" and the native stack
// before handing over to the previous handler (Python's faulthandler prints the Python stack).
// Every slot in the core's registry must be listed in kGuardedSlots below: ranvier_cuda_init()
// fails, naming the missing slots, when one is not.
#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/half.h"
#include "core/pinned.h"
#include "core/storage.h"
#include "cuda/caching_allocator.h"
#include "ops/amp.h"
#include "ops/attention.h"
#include "ops/binary.h"
#include "ops/conv.h"
#include "ops/copy.h"
#include "ops/ctc.h"
#include "ops/gelu_grad.h"
#include "ops/indexing.h"
#include "ops/iter.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/optim.h"
#include "ops/pool.h"
#include "ops/random.h"
#include "ops/reduce.h"
#include "ops/rnn.h"
#include "ops/softmax.h"
#include "ops/sort.h"
#include "ops/ternary.h"
#include "ops/unary.h"
#include "ops/upsample.h"

using namespace ranvier;
using ranvier::cuda::AllocatorStats;
using ranvier::cuda::CachingAllocator;
using ranvier::cuda::RawBackend;

namespace {
constexpr size_t kFakeMemory = size_t(1) << 30;  // the fake device's size
size_t g_used = 0;
std::map<char*, size_t> g_segments;  // mmap-ed device segments
std::recursive_mutex g_mutex;        // segments and the open depth
int g_open = 0;                      // > 0 while a kernel or copy runs (nesting allowed)
const bool g_guard = std::getenv("RANVIER_FAKE_CUDA_UNGUARDED") == nullptr;

void protect(char* p, size_t n, bool open) {
  if (!g_guard) return;
  if (mprotect(p, n, open ? PROT_READ | PROT_WRITE : PROT_NONE) != 0) {
    std::perror("fake_cuda: mprotect");
    std::abort();
  }
}

void on_fault(int sig, siginfo_t* info, void* ctx);
struct sigaction g_previous;

// Puts on_fault in front of whatever SIGSEGV handler is there now (test runners install
// theirs after the library is loaded, so this runs again at every kernel call).
void install_fault_handler() {
  struct sigaction cur;
  if (sigaction(SIGSEGV, nullptr, &cur) != 0) return;
  if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == &on_fault) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_previous);
}

// Opens every device segment for the lifetime of the object (Note [Guarded stand-in memory]).
struct OpenDevice {
  OpenDevice() {
    g_mutex.lock();
    if (g_guard) install_fault_handler();
    if (g_open++ == 0)
      for (auto& [p, n] : g_segments) protect(p, n, true);
  }
  ~OpenDevice() {
    if (--g_open == 0)
      for (auto& [p, n] : g_segments) protect(p, n, false);
    g_mutex.unlock();
  }
};

void* reserve(size_t n, int) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  if (g_used + n > kFakeMemory) return nullptr;
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  std::memset(p, 0xA5, n);  // like cudaMalloc, new memory holds no zeros to rely on
  if (g_open == 0) protect(static_cast<char*>(p), n, false);
  g_used += n;
  g_segments[static_cast<char*>(p)] = n;
  return p;
}
void give_back(void* p, int) {
  std::lock_guard<std::recursive_mutex> lock(g_mutex);
  auto it = g_segments.find(static_cast<char*>(p));
  if (it == g_segments.end()) return;
  g_used -= it->second;
  munmap(p, it->second);
  g_segments.erase(it);
}
void mem_info(int, size_t* f, size_t* t) {
  *t = kFakeMemory;
  *f = kFakeMemory - g_used;
}

bool in_device_memory(const void* a) {
  const char* c = static_cast<const char*>(a);
  for (auto& [p, n] : g_segments)
    if (c >= p && c < p + n) return true;
  return false;
}

void on_fault(int sig, siginfo_t* info, void* ctx) {
  if (info && in_device_memory(info->si_addr)) {
    const char msg[] =
        "\nfake_cuda: CUDA memory touched outside a kernel (host code read or wrote a CUDA "
        "tensor's data); native stack:\n";
    (void)!write(2, msg, sizeof msg - 1);
    void* frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
  }
  sigaction(SIGSEGV, &g_previous, nullptr);  // the previous handler (faulthandler) or default
  raise(sig);
}

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator(RawBackend{&reserve, &give_back, &mem_info});
  return *a;
}
void* alloc_slot(size_t n, Device d) { return allocator().allocate(n, d.index); }
void release_slot(void* p, size_t, Device d) { allocator().release(p, d.index); }
void fake_memcpy(void* dst, Device, const void* src, Device, size_t n) {
  OpenDevice open;
  std::memcpy(dst, src, n);
}

// "Pinned" host memory: plain aligned host memory (the stand-in only checks the bookkeeping).
void* host_alloc(size_t n) { return std::aligned_alloc(64, (n + 63) / 64 * 64); }
void host_free(void* p) { std::free(p); }

// The CUDA entry of *S: the CPU kernel of the same slot, called with device memory open.
template <typename Fn>
struct Guarded;
template <typename R, typename... A>
struct Guarded<R (*)(A...)> {
  template <KernelSlot<R (*)(A...)>* S>
  static R call(A... a) {
    OpenDevice open;
    return S->fn[int(DeviceType::CPU)](a...);
  }
};
template <auto* S>
void mirror() {
  using Fn = typename std::remove_pointer_t<decltype(S)>::Function;
  S->set(DeviceType::CUDA, &Guarded<Fn>::template call<S>);
}

// The real CUDA GEMM takes float16 / bfloat16 as they are (cuBLAS, float32 accumulation), where
// the CPU kernel does not (the CPU op multiplies float32 copies): the stand-in's gemm does those
// with plain loops, accumulating in float and rounding once, like cuBLAS.
template <typename T>
void reduced_gemm(const GemmSpec& s) {
  for (int64_t bi = 0; bi < s.batch_numel; ++bi) {
    int64_t rest = bi, ao = 0, bo = 0, co = 0;
    for (int d = s.nbatch - 1; d >= 0; --d) {
      const int64_t i = rest % s.batch_sizes[d];
      rest /= s.batch_sizes[d];
      ao += i * s.a_bs[d];
      bo += i * s.b_bs[d];
      co += i * s.c_bs[d];
    }
    const T* a = reinterpret_cast<const T*>(s.a) + ao;
    const T* b = reinterpret_cast<const T*>(s.b) + bo;
    T* c = reinterpret_cast<T*>(s.c) + co;
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        float acc = 0.0f;
        for (int64_t k = 0; k < s.k; ++k)
          acc += float(a[i * s.a_rs + k * s.a_cs]) * float(b[k * s.b_rs + j * s.b_cs]);
        float out = float(s.alpha) * acc;
        if (s.beta != 0.0) out += float(s.beta) * float(c[i * s.n + j]);
        c[i * s.n + j] = T(out);
      }
  }
}

void fake_gemm(const GemmSpec& s) {
  OpenDevice open;
  if (s.dtype == DType::Float16) return reduced_gemm<Half>(s);
  if (s.dtype == DType::BFloat16) return reduced_gemm<BFloat16>(s);
  gemm_kernel.fn[int(DeviceType::CPU)](s);
}

// The real elementwise kernels read and write float16 / bfloat16 operands, computing in float32
// (Note [16-bit operands] in ops/iter.h), where the CPU kernels take one dtype: the stand-in
// gives the CPU kernel float32 copies of such operands (contiguous over the iteration shape)
// and writes a 16-bit output back from a float32 one.
class Float32Operands {
 public:
  explicit Float32Operands(const LoopSpec& s) : orig_(s), spec_(s) {
    int64_t stride = 1;
    for (int d = s.ndim - 1; d >= 0; --d) {
      flat_[d] = stride;
      stride *= s.sizes[d];
    }
    for (int k = 0; k < s.nops; ++k) {
      if (!is_reduced_float(s.dtypes[k])) continue;
      buf_[k].resize(size_t(s.numel));
      if (k > 0)
        for (int64_t i = 0; i < s.numel; ++i) buf_[k][size_t(i)] = read(k, offset(k, i));
      spec_.data[k] = reinterpret_cast<char*>(buf_[k].data());
      spec_.dtypes[k] = DType::Float32;
      for (int d = 0; d < s.ndim; ++d) spec_.strides[k][d] = flat_[d];
    }
  }
  const LoopSpec& spec() const { return spec_; }
  // Writes a float32 result back into a 16-bit output.
  void finish() {
    if (buf_[0].empty()) return;
    for (int64_t i = 0; i < orig_.numel; ++i) {
      const float v = buf_[0][size_t(i)];
      char* p = orig_.data[0] + 2 * offset(0, i);
      if (orig_.dtypes[0] == DType::Float16) *reinterpret_cast<Half*>(p) = Half(v);
      else *reinterpret_cast<BFloat16*>(p) = BFloat16(v);
    }
  }

 private:
  int64_t offset(int k, int64_t i) const {
    int64_t off = 0;
    for (int d = orig_.ndim - 1; d >= 0; --d) {
      off += (i % orig_.sizes[d]) * orig_.strides[k][d];
      i /= orig_.sizes[d];
    }
    return off;
  }
  float read(int k, int64_t off) const {
    const char* p = orig_.data[k] + 2 * off;
    return orig_.dtypes[k] == DType::Float16 ? float(*reinterpret_cast<const Half*>(p))
                                             : float(*reinterpret_cast<const BFloat16*>(p));
  }
  LoopSpec orig_, spec_;
  int64_t flat_[kMaxDims] = {};
  std::vector<float> buf_[kMaxOperands];
};

template <typename Fn, typename Op, typename... A>
void with_float32(Fn cpu, Op op, const LoopSpec& s, const A&... a) {
  OpenDevice open;
  bool reduced = false;
  for (int k = 0; k < s.nops; ++k) reduced = reduced || is_reduced_float(s.dtypes[k]);
  if (!reduced) return cpu(op, s, a...);
  Float32Operands f(s);
  cpu(op, f.spec(), a...);
  f.finish();
}
void fake_binary(BinaryOp op, const LoopSpec& s) {
  with_float32(binary_kernel.fn[int(DeviceType::CPU)], op, s);
}
void fake_unary(UnaryOp op, const LoopSpec& s, const UnaryArgs& a) {
  with_float32(unary_kernel.fn[int(DeviceType::CPU)], op, s, a);
}
void fake_ternary(TernaryOp op, const LoopSpec& s, double alpha) {
  if (op == TernaryOp::Where) {  // copies bits of any dtype, like the real kernel
    OpenDevice open;
    return ternary_kernel.fn[int(DeviceType::CPU)](op, s, alpha);
  }
  with_float32(ternary_kernel.fn[int(DeviceType::CPU)], op, s, alpha);
}
void fake_gelu(const GeluGradSpec& s) {
  OpenDevice open;
  if (!is_reduced_float(s.dtype)) return gelu_backward_kernel.fn[int(DeviceType::CPU)](s);
  auto to_float = [&](const void* p) {
    std::vector<float> v(size_t(s.n));
    for (int64_t i = 0; p && i < s.n; ++i)
      v[size_t(i)] = s.dtype == DType::Float16 ? float(static_cast<const Half*>(p)[i])
                                               : float(static_cast<const BFloat16*>(p)[i]);
    return v;
  };
  std::vector<float> g = to_float(s.grad), x = to_float(s.x), out(size_t(s.n));
  GeluGradSpec f = s;
  f.dtype = DType::Float32;
  f.grad = g.data();
  f.x = x.data();
  f.out = out.data();
  gelu_backward_kernel.fn[int(DeviceType::CPU)](f);
  for (int64_t i = 0; i < s.n; ++i) {
    if (s.dtype == DType::Float16) static_cast<Half*>(s.out)[i] = Half(out[size_t(i)]);
    else static_cast<BFloat16*>(s.out)[i] = BFloat16(out[size_t(i)]);
  }
}

// The real attention kernels take float16 / bfloat16 (flash attention, or float32 copies) with a
// float32 lse; the stand-in runs the CPU kernel on float32 copies.
std::vector<float> float_copy(const void* p, DType t, int64_t n) {
  std::vector<float> v(size_t(p ? n : 0));
  for (int64_t i = 0; p && i < n; ++i)
    v[size_t(i)] = t == DType::Float16 ? float(static_cast<const Half*>(p)[i])
                                       : float(static_cast<const BFloat16*>(p)[i]);
  return v;
}
void write_back(void* p, DType t, const std::vector<float>& v) {
  for (size_t i = 0; p && i < v.size(); ++i) {
    if (t == DType::Float16) static_cast<Half*>(p)[i] = Half(v[i]);
    else static_cast<BFloat16*>(p)[i] = BFloat16(v[i]);
  }
}
void fake_sdpa(const AttnSpec& s, bool backward) {
  OpenDevice open;
  auto cpu = (backward ? sdpa_backward_kernel : sdpa_forward_kernel).fn[int(DeviceType::CPU)];
  if (!is_reduced_float(s.dtype)) return cpu(s);
  const DType h = s.dtype;
  const int64_t nq = s.b * s.l * s.e, nk = s.b * s.s * s.e, nv = s.b * s.s * s.ev,
                no = s.b * s.l * s.ev;
  std::vector<float> q = float_copy(s.q, h, nq), k = float_copy(s.k, h, nk),
                     v = float_copy(s.v, h, nv), o = float_copy(backward ? s.out : nullptr, h, no),
                     g = float_copy(s.grad, h, no), m;
  if (!backward) o.resize(size_t(no));
  AttnSpec t = s;
  t.dtype = DType::Float32;
  t.q = q.data();
  t.k = k.data();
  t.v = v.data();
  t.out = o.data();
  t.grad = s.grad ? g.data() : nullptr;
  if (s.mask) {
    m.resize(size_t(s.b * s.l * s.s));
    for (int64_t b = 0; b < s.b; ++b)
      for (int64_t i = 0; i < s.l; ++i)
        for (int64_t j = 0; j < s.s; ++j) {
          const char* e = static_cast<const char*>(s.mask) + 2 * (b * s.mb + i * s.ml + j * s.ms);
          m[size_t((b * s.l + i) * s.s + j)] = h == DType::Float16
                                                   ? float(*reinterpret_cast<const Half*>(e))
                                                   : float(*reinterpret_cast<const BFloat16*>(e));
        }
    t.mask = m.data();
    t.mb = s.l * s.s;
    t.ml = s.s;
    t.ms = 1;
  }
  std::vector<float> gq(size_t(s.gq ? nq : 0)), gk(size_t(s.gk ? nk : 0)),
      gv(size_t(s.gv ? nv : 0));
  t.gq = s.gq ? gq.data() : nullptr;
  t.gk = s.gk ? gk.data() : nullptr;
  t.gv = s.gv ? gv.data() : nullptr;
  cpu(t);
  if (!backward) return write_back(s.out, h, o);
  write_back(s.gq, h, gq);
  write_back(s.gk, h, gk);
  write_back(s.gv, h, gv);
}
void fake_sdpa_forward(const AttnSpec& s) { fake_sdpa(s, false); }
void fake_sdpa_backward(const AttnSpec& s) { fake_sdpa(s, true); }

// The real reduction kernel sums float16 / bfloat16 inputs in place; the stand-in gives the
// CPU kernel a float32 copy of the input's span (same strides; strides are never negative).
void fake_reduce(ReduceOp op, const ReduceSpec& s) {
  OpenDevice open;
  auto cpu = reduce_kernel.fn[int(DeviceType::CPU)];
  if (!is_reduced_float(s.in_dtype)) return cpu(op, s);
  if (op != ReduceOp::Sum || s.out_dtype != DType::Float32)  // as the real kernel refuses
    throw_error(ErrorKind::Runtime, "reduce (stand-in): a 16-bit input is only summed");
  const bool empty = s.outer_numel == 0 || s.inner_numel == 0;
  int64_t span = 1;
  for (int d = 0; d < s.nouter && !empty; ++d) span += (s.outer_sizes[d] - 1) * s.outer_strides[d];
  for (int d = 0; d < s.ninner && !empty; ++d) span += (s.inner_sizes[d] - 1) * s.inner_strides[d];
  std::vector<float> buf = float_copy(empty ? nullptr : s.in, s.in_dtype, span);
  ReduceSpec f = s;
  f.in = reinterpret_cast<const char*>(buf.data());
  f.in_dtype = DType::Float32;
  cpu(op, f);
}

// The real cross-entropy kernels read float16 / bfloat16 logits in place (float32 loss); the
// stand-in gives the CPU kernel float32 copies of the logits and rounds its gradient back.
void fake_ce(const CrossEntropySpec& s, bool backward) {
  OpenDevice open;
  auto cpu = (backward ? cross_entropy_backward_kernel : cross_entropy_forward_kernel)
                 .fn[int(DeviceType::CPU)];
  if (!is_reduced_float(s.logits_dtype)) return cpu(s);
  const int64_t n = s.n * s.c * s.inner;
  std::vector<float> z = float_copy(s.logits, s.logits_dtype, n), gin(size_t(backward ? n : 0));
  CrossEntropySpec f = s;
  f.logits_dtype = DType::Float32;
  f.logits = z.data();
  if (backward) f.grad_in = gin.data();
  cpu(f);
  if (backward) write_back(s.grad_in, s.logits_dtype, gin);
}
void fake_ce_forward(const CrossEntropySpec& s) { fake_ce(s, false); }
void fake_ce_backward(const CrossEntropySpec& s) { fake_ce(s, true); }

// Every kernel slot of the core (checked against the registry in ranvier_cuda_init()).
#define RV_SLOTS(X)                                                                            \
  X(cast_kernel) X(fill_kernel) X(binary_kernel) X(unary_kernel) X(ternary_kernel)             \
  X(gelu_backward_kernel) X(reduce_kernel) X(scan_kernel) X(cumprod_grad_kernel)               \
  X(gemm_kernel) X(gather_kernel) X(scatter_kernel) X(index_gather_kernel)                     \
  X(index_put_kernel) X(masked_fill_kernel) X(nonzero_count_kernel) X(nonzero_kernel)          \
  X(sort_kernel) X(unique_groups_kernel) X(random_kernel) X(im2col_kernel) X(col2im_kernel)    \
  X(conv_forward_kernel) X(conv_backward_data_kernel) X(conv_weight_grad_kernel)               \
  X(conv_backward_kernel) X(max_pool_kernel) X(max_pool_backward_kernel) X(avg_pool_kernel)    \
  X(avg_pool_backward_kernel) X(softmax_forward_kernel) X(softmax_backward_kernel)             \
  X(cross_entropy_forward_kernel) X(cross_entropy_backward_kernel)                             \
  X(batch_norm_forward_kernel) X(batch_norm_backward_kernel) X(layer_norm_forward_kernel)      \
  X(layer_norm_backward_kernel) X(sdpa_forward_kernel) X(sdpa_backward_kernel)                 \
  X(sgd_kernel) X(adam_kernel) X(rmsprop_kernel) X(adagrad_kernel) X(adadelta_kernel)          \
  X(adamax_kernel) X(nadam_kernel) X(radam_kernel) X(upsample_forward_kernel)                  \
  X(upsample_backward_kernel) X(ctc_forward_kernel) X(ctc_backward_kernel)                     \
  X(rnn_forward_kernel) X(rnn_backward_kernel) X(amp_unscale_kernel) X(amp_update_scale_kernel)

char g_error[1024] = "";
}  // namespace

extern "C" {
int ranvier_cuda_init() {
  static int result = 0;
  static bool done = false;
  if (!done) {
    done = true;
    ensure_kernels_registered();
    DeviceAllocator& a = device_allocator(DeviceType::CUDA);
    a.allocate = &alloc_slot;
    a.release = &release_slot;
    device_memcpy = &fake_memcpy;
    pinned_host_allocator().allocate = &host_alloc;
    pinned_host_allocator().release = &host_free;
#define RV_MIRROR(slot) mirror<&slot>();
    RV_SLOTS(RV_MIRROR)
#undef RV_MIRROR
    gemm_kernel.set(DeviceType::CUDA, &fake_gemm);
    binary_kernel.set(DeviceType::CUDA, &fake_binary);
    unary_kernel.set(DeviceType::CUDA, &fake_unary);
    ternary_kernel.set(DeviceType::CUDA, &fake_ternary);
    gelu_backward_kernel.set(DeviceType::CUDA, &fake_gelu);
    reduce_kernel.set(DeviceType::CUDA, &fake_reduce);
    cross_entropy_forward_kernel.set(DeviceType::CUDA, &fake_ce_forward);
    cross_entropy_backward_kernel.set(DeviceType::CUDA, &fake_ce_backward);
    sdpa_forward_kernel.set(DeviceType::CUDA, &fake_sdpa_forward);
    sdpa_backward_kernel.set(DeviceType::CUDA, &fake_sdpa_backward);
    set_converts_16bit(DeviceType::CUDA, true);
    std::string missing;
    for (const KernelSlotInfo& s : kernel_slots())
      if (!s.has(s.slot, DeviceType::CUDA))
        missing += std::string(missing.empty() ? "" : ", ") + s.name;
    if (!missing.empty()) {
      std::snprintf(g_error, sizeof g_error,
                    "the stand-in CUDA backend does not list these kernel slots: %s",
                    missing.c_str());
      result = -1;
      return result;
    }
    if (g_guard) install_fault_handler();
    result = 1;
  }
  return result;
}
int ranvier_cuda_register_kernels_only() { return ranvier_cuda_init() > 0 ? 0 : -1; }
const char* ranvier_cuda_last_error() { return g_error; }
int ranvier_cuda_current_device() { return 0; }
int ranvier_cuda_set_device(int d) { return d == 0 ? 0 : -1; }
int ranvier_cuda_synchronize(int) { return 0; }
unsigned long long ranvier_cuda_memory_stat(int d, int which) {
  AllocatorStats s = allocator().stats(d);
  return which == 0 ? s.allocated : which == 1 ? s.peak_allocated : s.reserved;
}
void ranvier_cuda_reset_peak(int d) { allocator().reset_peak(d); }
unsigned long long ranvier_cuda_empty_cache() { return allocator().empty_cache(); }
}
