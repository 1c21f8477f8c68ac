// One training step of the `lstm` workload of benchmarks/workloads.py from C++:
// Embedding(96,128)-LSTM(128,256, 1 layer, batch_first)-Linear(256,96) over a batch of 32 x 64
// tokens, the fused cross_entropy over all steps and the fused Adam step (lr 1e-3). The LSTM
// runs as nn.LSTM runs it (python/ranvier/nn/_functional_rnn.py): over an embedding's output,
// the fused rnn_layer_embedded with b_ih + b_hh (the input projections of the distinct tokens
// only, Note [Embedding projection]), writing its output batch-first.
#include <cstdio>
#include <vector>

#include <ops/loss.h>
#include <ops/rnn.h>
#include <ranvier.h>

#include "bench_common.h"

using namespace ranvier;

int main(int argc, char** argv) {
  bench::Options o = bench::parse_options(argc, argv);
  set_num_threads(o.threads);
  default_generator()->manual_seed(0);
  const int64_t batch = 32, steps = 64, vocab = 96, emb_dim = 128, hidden = 256;
  // draws in the order of the Python model's construction: the embedding, then the LSTM's
  // weight_ih, weight_hh, bias_ih, bias_hh from U(-1/sqrt(hidden), 1/sqrt(hidden)), the head
  Tensor emb = bench::init_embedding(vocab, emb_dim);
  double stdv = 1.0 / std::sqrt(double(hidden));
  std::vector<Tensor> lstm = {empty({4 * hidden, emb_dim}), empty({4 * hidden, hidden}),
                              empty({4 * hidden}), empty({4 * hidden})};
  for (Tensor& p : lstm) uniform_(p, -stdv, stdv).set_requires_grad(true);
  std::vector<Tensor> head = bench::init_linear(hidden, vocab);
  std::vector<Tensor> params = {emb, lstm[0], lstm[1], lstm[2], lstm[3], head[0], head[1]};
  Tensor x = randint(0, vocab, {batch, steps});
  Tensor y = randint(0, vocab, {batch, steps});
  bench::Adam opt(params, 1e-3, 0.0, false);

  {
    Tensor h = zeros({batch, hidden});
    if (rnn_layer_embedded(RnnMode::Lstm, bench::embedding(emb, x), lstm[0], Tensor(), true, h,
                           h, lstm[1], lstm[3], false, true, "LSTM")
            .empty()) {
      std::fprintf(stderr, "bench_lstm: rnn_layer_embedded does not apply\n");
      return 1;
    }
  }
  return bench::run_training(o, "lstm", "C++", "tokens", double(batch * steps), [&] {
    bench::zero_grad(params);
    Tensor seq = bench::embedding(emb, x);  // [B, T, 128] (batch_first)
    Tensor h0 = zeros({1, batch, hidden}), c0 = zeros({1, batch, hidden});
    std::vector<Tensor> out = rnn_layer_embedded(RnnMode::Lstm, seq, lstm[0], Tensor(), true,
                                                 select(h0, 0, 0), select(c0, 0, 0), lstm[1],
                                                 add(lstm[2], lstm[3]), false, true, "LSTM");
    // nn.LSTM also returns (h_n, c_n), stacked over layers; the workload does not use them
    Tensor h_n = stack({out[1]}, 0), c_n = stack({out[2]}, 0);
    (void)h_n;
    (void)c_n;
    Tensor logits = linear(out[0], head[0], head[1]);  // [B, T, 96]
    Tensor loss = cross_entropy(reshape(logits, {-1, vocab}), reshape(y, {-1}), Tensor(),
                                Reduction::Mean, -100, 0.0);
    autograd::backward({loss}, {}, false, false);
    opt.step();
    return bench::item(loss);
  });
}
