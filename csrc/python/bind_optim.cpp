// Bindings for the fused optimizer steps: private _C._optim_<name>_ functions called once per
// param group by ranvier.optim (python/ranvier/optim/). Tensor lists are Python sequences; SGD's
// momentum-buffer list may hold None for buffers not created yet.
#include <pybind11/pybind11.h>

#include "ops/optim.h"
#include "python/convert.h"

namespace ranvier::python {

namespace {

TensorVec to_list(py::handle h, const char* op, const char* what, bool allow_none = false) {
  TensorVec out;
  if (h.is_none()) return out;
  RV_CHECK_TYPE(py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h), op, ": ", what,
                " must be a list of tensors, got ", std::string(py::str(py::type::of(h))));
  for (py::handle item : h) {
    if (item.is_none()) {
      RV_CHECK_TYPE(allow_none, op, ": ", what, " must not contain None");
      out.emplace_back();
      continue;
    }
    RV_CHECK_TYPE(is_tensor(item), op, ": ", what, " must be a list of tensors, got an element of type ",
                  std::string(py::str(py::type::of(item))));
    out.push_back(py::cast<Tensor>(item));
  }
  return out;
}

}  // namespace

void bind_optim(py::module_& m, py::class_<Tensor>&) {
  m.def("_optim_sgd_",
        [](py::handle params, py::handle grads, py::handle bufs, double lr, double momentum,
           double dampening, double weight_decay, bool nesterov, bool maximize) {
          const char* op = "sgd_step_";
          TensorVec out = sgd_step_(to_list(params, op, "params"), to_list(grads, op, "grads"),
                                    to_list(bufs, op, "momentum_buffers", true), lr, momentum,
                                    dampening, weight_decay, nesterov, maximize);
          py::list res;
          for (const Tensor& t : out) res.append(py::cast(t));
          return res;
        },
        py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::arg("lr"),
        py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"),
        py::arg("maximize"));
  m.def("_optim_adam_",
        [](py::handle params, py::handle grads, py::handle m1, py::handle m2, py::handle mx,
           py::handle steps, double lr, double beta1, double beta2, double eps,
           double weight_decay, bool amsgrad, bool maximize, bool decoupled) {
          const char* op = "adam_step_";
          adam_step_(to_list(params, op, "params"), to_list(grads, op, "grads"),
                     to_list(m1, op, "exp_avgs"), to_list(m2, op, "exp_avg_sqs"),
                     to_list(mx, op, "max_exp_avg_sqs"), to_list(steps, op, "state_steps"), lr,
                     beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled);
        });
  m.def("_optim_rmsprop_",
        [](py::handle params, py::handle grads, py::handle sq, py::handle ga, py::handle bufs,
           py::handle steps, double lr, double alpha, double eps, double weight_decay,
           double momentum, bool centered, bool maximize) {
          const char* op = "rmsprop_step_";
          rmsprop_step_(to_list(params, op, "params"), to_list(grads, op, "grads"),
                        to_list(sq, op, "square_avgs"), to_list(ga, op, "grad_avgs"),
                        to_list(bufs, op, "momentum_buffers"), to_list(steps, op, "state_steps"),
                        lr, alpha, eps, weight_decay, momentum, centered, maximize);
        });
  m.def("_optim_adagrad_",
        [](py::handle params, py::handle grads, py::handle sums, py::handle steps, double lr,
           double lr_decay, double weight_decay, double eps, bool maximize) {
          const char* op = "adagrad_step_";
          adagrad_step_(to_list(params, op, "params"), to_list(grads, op, "grads"),
                        to_list(sums, op, "state_sums"), to_list(steps, op, "state_steps"), lr,
                        lr_decay, weight_decay, eps, maximize);
        });
  m.def("_optim_adadelta_",
        [](py::handle params, py::handle grads, py::handle sq, py::handle acc, py::handle steps,
           double lr, double rho, double eps, double weight_decay, bool maximize) {
          const char* op = "adadelta_step_";
          adadelta_step_(to_list(params, op, "params"), to_list(grads, op, "grads"),
                         to_list(sq, op, "square_avgs"), to_list(acc, op, "acc_deltas"),
                         to_list(steps, op, "state_steps"), lr, rho, eps, weight_decay,
                         maximize);
        });
  m.def("_optim_adamax_",
        [](py::handle params, py::handle grads, py::handle m1, py::handle inf, py::handle steps,
           double lr, double beta1, double beta2, double eps, double weight_decay,
           bool maximize) {
          const char* op = "adamax_step_";
          adamax_step_(to_list(params, op, "params"), to_list(grads, op, "grads"),
                       to_list(m1, op, "exp_avgs"), to_list(inf, op, "exp_infs"),
                       to_list(steps, op, "state_steps"), lr, beta1, beta2, eps, weight_decay,
                       maximize);
        });
  m.def("_optim_nadam_",
        [](py::handle params, py::handle grads, py::handle m1, py::handle m2, py::handle mu,
           py::handle steps, double lr, double beta1, double beta2, double eps,
           double weight_decay, double momentum_decay, bool decoupled, bool maximize) {
          const char* op = "nadam_step_";
          nadam_step_(to_list(params, op, "params"), to_list(grads, op, "grads"),
                      to_list(m1, op, "exp_avgs"), to_list(m2, op, "exp_avg_sqs"),
                      to_list(mu, op, "mu_products"), to_list(steps, op, "state_steps"), lr,
                      beta1, beta2, eps, weight_decay, momentum_decay, decoupled, maximize);
        });
  m.def("_optim_radam_",
        [](py::handle params, py::handle grads, py::handle m1, py::handle m2, py::handle steps,
           double lr, double beta1, double beta2, double eps, double weight_decay,
           bool decoupled, bool maximize) {
          const char* op = "radam_step_";
          radam_step_(to_list(params, op, "params"), to_list(grads, op, "grads"),
                      to_list(m1, op, "exp_avgs"), to_list(m2, op, "exp_avg_sqs"),
                      to_list(steps, op, "state_steps"), lr, beta1, beta2, eps, weight_decay,
                      decoupled, maximize);
        });
}

}  // namespace ranvier::python
