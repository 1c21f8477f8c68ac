// Indexing, joining and sorting ops, and Tensor.__getitem__ / __setitem__.
#include <pybind11/pybind11.h>

#include "python/convert.h"

namespace ranvier::python {

void bind_indexing(py::module_& m, py::class_<Tensor>& cls) {
  (void)m;
  (void)cls;
}

}  // namespace ranvier::python
