// The public C++ API of ranvier: include this one header.
#pragma once
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "ops/binary.h"
#include "ops/copy.h"
#include "ops/factory.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/unary.h"
