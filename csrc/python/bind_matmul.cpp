// Matrix products: matmul/mm/bmm/addmm/outer/dot.
#include <pybind11/pybind11.h>

#include "python/convert.h"

namespace ranvier::python {

void bind_matmul(py::module_& m, py::class_<Tensor>& cls) {
  (void)m;
  (void)cls;
}

}  // namespace ranvier::python
