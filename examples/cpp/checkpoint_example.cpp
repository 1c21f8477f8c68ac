// Saves tensors with the C++ safetensors writer (the format ranvier.save uses), loads them back
// and checks them. Given a path to an existing checkpoint (say one written in Python by
// ranvier.save), it lists that file's tensors instead of writing one:
//   ./checkpoint_example [--list FILE] [OUT_FILE]
#include <cstdio>
#include <cstring>
#include <string>

#include <ranvier.h>

using namespace ranvier;

static int list(const std::string& path) {
  serialize::SafetensorsData data = serialize::load_safetensors(path);
  for (const auto& nt : data.tensors)
    std::printf("%s: %s\n", nt.first.c_str(), nt.second.describe().c_str());
  return 0;
}

static int run(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--list") return list(argv[2]);
  std::string path = argc > 1 ? argv[1] : "checkpoint_example.safetensors";

  // A 2x3 weight (written transposed: non-contiguous tensors are stored as contiguous copies)
  // and a 0-d step counter.
  Tensor w = reshape(arange(Scalar(int64_t(0)), Scalar(int64_t(6)), Scalar(int64_t(1)),
                            DType::Float32), {3, 2});
  Tensor wt = transpose(w, 0, 1);
  Tensor step = full({}, Scalar(int64_t(42)), DType::Int64);
  serialize::save_safetensors(path, {{"fc.weight", wt}, {"step", step}}, {{"epoch", "3"}});

  serialize::SafetensorsData back = serialize::load_safetensors(path);
  Tensor w2 = back.get("fc.weight");
  const float* p = w2.data<float>();
  std::printf("fc.weight: %s\n", w2.describe().c_str());
  // wt[i][j] = w[j][i] = 2j + i
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      if (p[i * 3 + j] != float(2 * j + i)) {
        std::printf("unexpected value at [%d, %d]\n", i, j);
        return 1;
      }
  if (*back.get("step").data<int64_t>() != 42 || back.metadata.at("epoch") != "3") {
    std::printf("unexpected step or metadata\n");
    return 1;
  }
  std::printf("step = %lld, epoch = %s: round trip ok\n",
              static_cast<long long>(*back.get("step").data<int64_t>()),
              back.metadata.at("epoch").c_str());
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // ranvier::Error: a bad or missing file, say
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
