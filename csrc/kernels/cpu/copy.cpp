// CPU kernels for dtype-converting copies and fills (all dtypes, incl. float16/bfloat16), and
// a tiled form for same-dtype transposing copies.
#include "ops/copy.h"

#include <emmintrin.h>

#include <algorithm>
#include <cstdint>
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
    } else if (st[0] == 1 && st[1] == -1) {  // a flipped row (flip): vectorises with a permute
      for (int64_t i = 0; i < n; ++i) o[i] = convert<To>(a[-i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = convert<To>(a[i * st[1]]);
    }
  });
}

// A same-dtype copy whose output runs along the last dim while its input runs along another
// (a transpose made contiguous): element by element, every read of a row touches a new cache
// line, and with power-of-two strides those lines share one L1 set and evict each other.
// Instead, square tiles of kTile x kTile elements over the two dims (d, the input's unit-stride
// dim, and the last) go through a small buffer: the tile's input rows are read whole into it,
// then its output rows are written whole from it, so no line has to stay cached in between.
constexpr int64_t kTile = 32;

template <typename E>  // an unsigned integer of the element's size: the bits are moved as is
void tiled_transpose_copy(const LoopSpec& s, int d) {
  const int nd = s.ndim, dl = nd - 1;
  const int64_t ni = s.sizes[d], nj = s.sizes[dl];
  const int64_t out_i = s.strides[0][d], in_j = s.strides[1][dl];
  const int64_t tiles_i = (ni + kTile - 1) / kTile;
  const int64_t outer = s.numel / (ni * nj);
  const int64_t grain = std::max<int64_t>(1, kGrainSize / (kTile * nj));
  parallel_for(0, outer * tiles_i, grain, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      int64_t rem = w / tiles_i, off_out = 0, off_in = 0;
      for (int k = nd - 1; k >= 0; --k) {
        if (k == d || k == dl) continue;
        const int64_t c = rem % s.sizes[k];
        rem /= s.sizes[k];
        off_out += c * s.strides[0][k];
        off_in += c * s.strides[1][k];
      }
      E* out = reinterpret_cast<E*>(s.data[0]) + off_out;
      const E* in = reinterpret_cast<const E*>(s.data[1]) + off_in;
      const int64_t i0 = (w % tiles_i) * kTile, ti = std::min(ni - i0, kTile);
      E buf[kTile * kTile];
      for (int64_t j0 = 0; j0 < nj; j0 += kTile) {
        const int64_t tj = std::min(nj - j0, kTile);
        for (int64_t j = 0; j < tj; ++j) {
          const E* src = in + (j0 + j) * in_j + i0;
          for (int64_t i = 0; i < ti; ++i) buf[j * kTile + i] = src[i];
        }
        for (int64_t i = 0; i < ti; ++i) {
          E* dst = out + (i0 + i) * out_i + j0;
          for (int64_t j = 0; j < tj; ++j) dst[j] = buf[j * kTile + i];
        }
      }
    }
  });
}

// A same-dtype copy of rows, with two operands and the element size known when compiled:
// typed pointers stepped dim by dim (the generic row walk spent ~170 instructions a row on
// its operand loops; a head permute of [16, 64, 4, 32] has 4,096 rows of 32 floats), short
// contiguous rows moved 16 bytes at a time inline instead of a memcpy call each.
template <typename E>
void copy_rows_typed(const LoopSpec& s) {
  const int nd = s.ndim;
  const int64_t n = s.sizes[nd - 1], so = s.strides[0][nd - 1], si = s.strides[1][nd - 1];
  int64_t sizes[kMaxDims], os[kMaxDims], is[kMaxDims];
  for (int d = 0; d < nd; ++d) {
    sizes[d] = s.sizes[d];
    os[d] = s.strides[0][d];
    is[d] = s.strides[1][d];
  }
  E* const out0 = reinterpret_cast<E*>(s.data[0]);
  const E* const in0 = reinterpret_cast<const E*>(s.data[1]);
  const bool unit = so == 1 && si == 1;
  const bool short_rows = unit && n * int64_t(sizeof(E)) <= 256 && (n * sizeof(E)) % 16 == 0;
  parallel_for(0, s.numel / n, std::max<int64_t>(1, kGrainSize / n), [&](int64_t b, int64_t e) {
    int64_t coord[kMaxDims];
    int64_t rem = b, ooff = 0, ioff = 0;
    for (int d = nd - 2; d >= 0; --d) {
      coord[d] = rem % sizes[d];
      rem /= sizes[d];
      ooff += coord[d] * os[d];
      ioff += coord[d] * is[d];
    }
    E* o = out0 + ooff;
    const E* a = in0 + ioff;
    for (int64_t r = b; r < e; ++r) {
      if (short_rows) {
        const char* src = reinterpret_cast<const char*>(a);
        char* dst = reinterpret_cast<char*>(o);
        // (SSE2 moves: GCC turns a loop of 16-byte memcpys back into one memcpy call)
        for (int64_t k = 0; k < n * int64_t(sizeof(E)); k += 16)
          _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + k),
                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k)));
      } else if (unit) {
        std::memcpy(o, a, size_t(n) * sizeof(E));
      } else if (so == 1 && si == -1) {  // a flipped row (flip): vectorises with a permute
        for (int64_t i = 0; i < n; ++i) o[i] = a[-i];
      } else {
        for (int64_t i = 0; i < n; ++i) o[i * so] = a[i * si];
      }
      for (int d = nd - 2; d >= 0; --d) {
        o += os[d];
        a += is[d];
        if (++coord[d] < sizes[d]) break;
        coord[d] = 0;
        o -= sizes[d] * os[d];
        a -= sizes[d] * is[d];
      }
    }
  });
}

bool try_copy_rows_typed(const LoopSpec& s) {
  if (s.ndim < 2 || s.dtypes[0] != s.dtypes[1]) return false;
  switch (element_size(s.dtypes[0])) {
    case 1: copy_rows_typed<uint8_t>(s); return true;
    case 2: copy_rows_typed<uint16_t>(s); return true;
    case 4: copy_rows_typed<uint32_t>(s); return true;
    case 8: copy_rows_typed<uint64_t>(s); return true;
    default: return false;
  }
}

// Takes the copy when it is a transpose of that kind; false leaves it to the row walk.
bool try_tiled_transpose_copy(const LoopSpec& s) {
  const int nd = s.ndim;
  if (nd < 2 || s.dtypes[0] != s.dtypes[1] || s.strides[0][nd - 1] != 1 ||
      s.strides[1][nd - 1] == 1 || s.sizes[nd - 1] < kTile / 2)
    return false;
  int d = -1;
  for (int k = 0; k < nd - 1; ++k)
    if (s.strides[1][k] == 1 && s.sizes[k] >= kTile / 2) d = k;
  if (d < 0) return false;
  switch (element_size(s.dtypes[0])) {
    case 1: tiled_transpose_copy<uint8_t>(s, d); return true;
    case 2: tiled_transpose_copy<uint16_t>(s, d); return true;
    case 4: tiled_transpose_copy<uint32_t>(s, d); return true;
    case 8: tiled_transpose_copy<uint64_t>(s, d); return true;
    default: return false;
  }
}

void cast_cpu(const LoopSpec& s) {
  if (try_tiled_transpose_copy(s) || try_copy_rows_typed(s)) return;
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
