// Float32 attention for short sequences on AVX2 CPUs (kernels/cpu/attention_small_avx2.cpp), the
// path kernels/cpu/attention.cpp tries first when its AVX2 row passes are in use.
//
// Note [Small-head attention on AVX2]: the general kernels cut a head into blocks of 64 query
// rows and run each product as a GEMM call (B packed per call; a causal block in two parts, so a
// quarter of the scores skipped). For a head of a few hundred keys at most, these kernels pack
// K, V (and in the backward Q and dO) once per head and walk the query rows six at a time, one
// AVX2 tile's rows: the scores of the six rows over the keys the last of them may see, their
// softmax, then their output, while the rows are in L1. A causal head then computes about 60%
// of the full products instead of 75%. The backward takes dS a query group at a time as the
// forward did, then dK and dV six keys at a time over the queries that see them.
//
// Every element is the same FMA chain as in the general kernels (the six-row groups only leave
// out, or add, products with probabilities that are exactly zero), and the row passes are the
// same functions, so for a head of at most 64 queries (one block there) and finite inputs both
// give the same bits. (With an infinite query, the general kernels' dK takes 0 * inf = NaN from
// queries that cannot see a key; these leave such products out.) A head is one work item, so
// results do not depend on the thread count.
//
// Note [Fetching the next head]: in a training step a head's rows were written long before
// (the forward's q, k, v by the qkv product; the backward's saved operands a whole forward
// earlier) and its outputs go to blocks last touched a step ago, so a head computed straight
// from memory waits on each row: its rows lie 1.5 KB apart in a fused qkv block, a pattern
// the hardware's prefetchers pick up late. Each thread therefore takes its next head when it
// starts one and spreads prefetches of that head's rows (prefetchw for the rows it will write)
// over the current head's six-row groups. gpt's [16, 4, 64, 32] heads, two Zen 3 threads,
// forward alone (medians, us): inputs out of the caches 411-420 -> 365-380, outputs and inputs
// 445-464 -> 427-436, everything hot 310-318 -> 332-335 (the prefetches' own cost). In the
// gpt step (per-op timing): forward 466-482 -> 413-445, backward 590-598 -> 509-565 a layer.
#pragma once
#include "ops/attention.h"

namespace ranvier::cpu {

// Run p when these kernels take it (float32, no mask, AVX2 GEMM tiles, at most kSmallMaxKeys
// keys and kSmallMaxDim columns in q / k / v, at most kSmallMaxQueries queries; the backward
// also needs the forward's kept probabilities); return false otherwise, having done nothing.
bool attn_small_forward_avx2(const AttnSpec& p);
bool attn_small_backward_avx2(const AttnSpec& p);

// Whether attention.cpp may take these kernels (on by default; tests compare them with the
// general ones); returns the previous setting.
bool set_attention_small_enabled(bool on);
// How many forward and backward calls these kernels have run (tests check that they ran).
int64_t attention_small_runs();

}  // namespace ranvier::cpu
