// The transposed Winograd F(2x2, 3x3) input transform (portable; see conv_winograd.cpp for the
// layouts): the gradient of V = Bt d B with respect to the input d. Each tile's 4x4 block
// dd = B dV Bt is added into the tile's 4x4 input window (stride 2, so windows overlap by two
// rows and two columns), with
//   B v = [v0, (v1 - v2) + v3, (v1 + v2) - v0, -v3]
// applied to the columns of dV, then to the rows of the result.
//
// Note [Winograd input gradient order]: the sums over overlapping windows run in one fixed
// order, which the AVX2 copy (conv_winograd_avx2.cpp) follows, so both give the same bits. Per
// row of tiles, a padded row's column 2t + j (j = 0, 1) is F_t + S: F_t the tile t's value at
// column j (tile tw, past the row, counts as a tile of zeros), S the value of tile t - 1 at
// column j + 2 (+0 for t = 0). A padded output row 2 ty + i (i = 0, 1) is that row of tile row
// ty plus the carry: rows 2 and 3 of tile row ty - 1 (+0 for ty = 0); the rows below the last
// tile row are +0 plus the carry.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ranvier::cpu {

namespace {

template <typename T>
void b_times(const T v[4], T y[4]) {
  y[0] = v[0];
  y[1] = (v[1] - v[2]) + v[3];
  y[2] = (v[1] + v[2]) - v[0];
  y[3] = -v[3];
}

}  // namespace

// gx [planes][h][w] (overwritten) from dV[k * planes * ld + c * ld + t0 + ty * tw + t], the
// tiles of the forward input transform's windows at (2 ty - ph, 2 tx - pw).
template <typename T>
void winograd_input_grad_portable(const T* dV, int64_t planes, int64_t h, int64_t w,
                                  int64_t ph, int64_t pw, int64_t th, int64_t tw, int64_t ld,
                                  int64_t t0, T* gx) {
  const int64_t kstride = planes * ld, wp = 2 * tw + 2;  // padded columns
  std::vector<T> rows(std::size_t(4 * wp)), carry(std::size_t(2 * wp));
  std::vector<T> dd(std::size_t(16 * (tw + 1)));  // [tile][i][j], tile tw all from zeros
  const auto emit = [&](const T* row, const T* below, int64_t yp, T* plane) {
    const int64_t r = yp - ph;
    if (r < 0 || r >= h) return;
    for (int64_t x = 0; x < w; ++x) plane[r * w + x] = (row ? row[x + pw] : T(0)) + below[x + pw];
  };
  for (int64_t c = 0; c < planes; ++c) {
    T* plane = gx + c * h * w;
    std::fill(carry.begin(), carry.end(), T(0));
    for (int64_t ty = 0; ty < th; ++ty) {
      for (int64_t t = 0; t <= tw; ++t) {
        T v[4][4] = {};
        if (t < tw)
          for (int k = 0; k < 16; ++k)
            v[k / 4][k % 4] = dV[k * kstride + c * ld + t0 + ty * tw + t];
        T cols[4][4];  // B applied down each column s of dV: cols[s][i]
        for (int s = 0; s < 4; ++s) {
          const T col[4] = {v[0][s], v[1][s], v[2][s], v[3][s]};
          b_times(col, cols[s]);
        }
        for (int i = 0; i < 4; ++i) {  // then along each row i
          const T row[4] = {cols[0][i], cols[1][i], cols[2][i], cols[3][i]};
          b_times(row, &dd[std::size_t((t * 4 + i) * 4)]);
        }
      }
      for (int i = 0; i < 4; ++i)
        for (int64_t t = 0; t <= tw; ++t)
          for (int j = 0; j < 2; ++j) {
            const T s = t > 0 ? dd[std::size_t(((t - 1) * 4 + i) * 4 + j + 2)] : T(0);
            rows[std::size_t(i * wp + 2 * t + j)] = dd[std::size_t((t * 4 + i) * 4 + j)] + s;
          }
      for (int i = 0; i < 2; ++i)
        emit(&rows[std::size_t(i * wp)], &carry[std::size_t(i * wp)], 2 * ty + i, plane);
      std::copy(rows.begin() + 2 * wp, rows.end(), carry.begin());
    }
    for (int i = 0; i < 2; ++i) emit(nullptr, &carry[std::size_t(i * wp)], 2 * th + i, plane);
  }
}

template void winograd_input_grad_portable<float>(const float*, int64_t, int64_t, int64_t,
                                                  int64_t, int64_t, int64_t, int64_t, int64_t,
                                                  int64_t, float*);
template void winograd_input_grad_portable<double>(const double*, int64_t, int64_t, int64_t,
                                                   int64_t, int64_t, int64_t, int64_t, int64_t,
                                                   int64_t, double*);

}  // namespace ranvier::cpu
