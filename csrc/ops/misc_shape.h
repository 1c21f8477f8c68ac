// Shape-changing ops built from views, indexing and cat: tril/triu, flip, roll, repeat, tile,
// pad (constant, reflect, replicate, circular) and one_hot. Most are compositions of
// differentiable ops (Principle 4); flip and constant pad record their own backward.
#pragma once
#include <string>
#include <vector>

#include "core/scalar.h"
#include "core/tensor.h"

namespace ranvier {

Tensor tril(const Tensor& t, int64_t diagonal = 0);
Tensor triu(const Tensor& t, int64_t diagonal = 0);
Tensor flip(const Tensor& t, const std::vector<int64_t>& dims);
// dims empty: roll the flattened tensor (then restore the shape).
Tensor roll(const Tensor& t, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims);
Tensor repeat(const Tensor& t, const Shape& repeats);
Tensor tile(const Tensor& t, const Shape& reps);
// pad: (left, right) pairs starting from the last dim; mode constant/reflect/replicate/circular.
Tensor pad(const Tensor& t, const std::vector<int64_t>& pad, const std::string& mode = "constant",
           const Scalar& value = Scalar(0.0));
Tensor one_hot(const Tensor& t, int64_t num_classes = -1);

}  // namespace ranvier
