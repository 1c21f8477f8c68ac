// One training step of the `gpt` workload of benchmarks/workloads.py from C++: token
// Embedding(96,128) + learned positions (64,128); 4 pre-LayerNorm blocks (fused qkv
// Linear(128,384), causal fused scaled-dot-product attention over 4 heads, proj
// Linear(128,128), MLP Linear(128,512)-GELU-Linear(512,128), residuals); final LayerNorm;
// Linear(128,96); batch 16 x 64 tokens, the fused cross_entropy and the fused AdamW step
// (lr 3e-4, weight decay 0.01). Shapes are moved between ops the way the Python model and
// F.scaled_dot_product_attention move them (views, then one reshape copy per operand).
#include <cmath>
#include <vector>

#include <ops/activation.h>
#include <ops/attention.h>
#include <ops/loss.h>
#include <ops/norm.h>
#include <ranvier.h>

#include "bench_common.h"

using namespace ranvier;

namespace {

struct Block {
  std::vector<Tensor> ln1, qkv, proj, ln2, fc, fc2;
};

}  // namespace

int main(int argc, char** argv) {
  bench::Options o = bench::parse_options(argc, argv);
  set_num_threads(o.threads);
  default_generator()->manual_seed(0);
  const int64_t B = 16, T = 64, vocab = 96, C = 128, heads = 4, layers = 4, hd = C / heads;
  // draws in the order of the Python model's construction
  Tensor tok = bench::init_embedding(vocab, C);
  Tensor pos = bench::init_embedding(T, C);
  std::vector<Block> blocks(layers);
  for (Block& b : blocks) {
    b.ln1 = bench::init_layer_norm(C);
    b.qkv = bench::init_linear(C, 3 * C);
    b.proj = bench::init_linear(C, C);
    b.ln2 = bench::init_layer_norm(C);
    b.fc = bench::init_linear(C, 4 * C);
    b.fc2 = bench::init_linear(4 * C, C);
  }
  std::vector<Tensor> ln_f = bench::init_layer_norm(C);
  std::vector<Tensor> head = bench::init_linear(C, vocab);
  std::vector<Tensor> params = {tok, pos};
  for (const Block& b : blocks)
    for (const auto* group : {&b.ln1, &b.qkv, &b.proj, &b.ln2, &b.fc, &b.fc2})
      params.insert(params.end(), group->begin(), group->end());
  params.insert(params.end(), ln_f.begin(), ln_f.end());
  params.insert(params.end(), head.begin(), head.end());
  Tensor x = randint(0, vocab, {B, T});
  Tensor y = randint(0, vocab, {B, T});
  bench::Adam opt(params, 3e-4, 0.01, /*decoupled=*/true);
  const double scale = 1.0 / std::sqrt(double(hd));

  // [B, T, C] slice of qkv -> [B * heads, T, hd] (view, transpose, then the expand + reshape
  // copy of F.scaled_dot_product_attention)
  auto heads_of = [&](const Tensor& t) {
    Tensor v = expand(transpose(view(t, {B, T, heads, hd}), 1, 2), {B, heads, T, hd});
    return reshape(v, {B * heads, T, hd});
  };
  auto block = [&](const Tensor& h, const Block& b) {
    std::vector<Tensor> qkv =
        split(linear(layer_norm(h, {C}, b.ln1[0], b.ln1[1], 1e-5), b.qkv[0], b.qkv[1]), C, 2);
    Tensor a = scaled_dot_product_attention_fused(heads_of(qkv[0]), heads_of(qkv[1]),
                                                  heads_of(qkv[2]), Tensor(), scale, true);
    a = reshape(transpose(reshape(a, {B, heads, T, hd}), 1, 2), {B, T, C});
    Tensor r = add(h, linear(a, b.proj[0], b.proj[1]));
    Tensor m = linear(gelu(linear(layer_norm(r, {C}, b.ln2[0], b.ln2[1], 1e-5), b.fc[0],
                                  b.fc[1])),
                      b.fc2[0], b.fc2[1]);
    return add(r, m);
  };
  return bench::run_training(o, "gpt", "C++", "tokens", double(B * T), [&] {
    bench::zero_grad(params);
    Tensor h = add(bench::embedding(tok, x),
                   bench::embedding(pos, arange(Scalar(0), Scalar(T), Scalar(1), DType::Int64)));
    for (const Block& b : blocks) h = block(h, b);
    Tensor logits = linear(layer_norm(h, {C}, ln_f[0], ln_f[1], 1e-5), head[0], head[1]);
    Tensor loss = cross_entropy(reshape(logits, {-1, vocab}), reshape(y, {-1}), Tensor(),
                                Reduction::Mean, -100, 0.0);
    autograd::backward({loss}, {}, false, false);
    opt.step();
    return bench::item(loss);
  });
}
