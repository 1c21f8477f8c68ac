// Random numbers: Generator, manual_seed, rand/randn/randint/randperm/bernoulli, uniform_/normal_.
#include <pybind11/pybind11.h>

#include "python/convert.h"

namespace ranvier::python {

void bind_random(py::module_& m, py::class_<Tensor>& cls) {
  (void)m;
  (void)cls;
}

}  // namespace ranvier::python
