// In-place ops under autograd. Without grad tracking an in-place op runs its kernel on self
// and bumps the version. With grad tracking (Note [In-place with autograd]) the op computes
// its result out of place from a snapshot of self (so nothing it saves is changed later),
// then commit_inplace writes the result into self and moves self's history onto the result's
// grad_fn. When self is a view, its base gets a CopySlices node: the base's gradient passes
// through except over the view's region, where it goes to the result's history.
#pragma once
#include <initializer_list>

#include "core/tensor.h"

namespace ranvier::autograd {

// Raises the errors PyTorch raises for an in-place write into a leaf that requires grad (or a
// view of one) while grad mode is on.
void check_inplace(const Tensor& self, const char* op);

// True when the in-place op must be recorded (grad mode on, and self or another input requires
// grad); also runs check_inplace.
bool inplace_needs_grad(const Tensor& self, std::initializer_list<Tensor> others,
                        const char* op = "in-place operation");

// Writes result (same shape as self) into self, bumps the version and rebases the history.
void commit_inplace(Tensor& self, const Tensor& result, const char* op);

// Runs an in-place op: fn(snapshot_of_self) returns the out-of-place result.
template <typename F>
Tensor& record_inplace(Tensor& self, const char* op, F&& fn);

}  // namespace ranvier::autograd

#include "ops/copy.h"

namespace ranvier::autograd {
template <typename F>
Tensor& record_inplace(Tensor& self, const char* op, F&& fn) {
  Tensor snapshot = clone(self);
  Tensor result = fn(snapshot);
  commit_inplace(self, result, op);
  return self;
}
}  // namespace ranvier::autograd
