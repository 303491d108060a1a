// gemm_roofline: oneDNN's sgemm (Debian's libdnnl, OpenMP) on a list of GEMM shapes, the practical
// roofline for a model's matrix work. Each argument is M,N,K,COUNT[,LAYOUT]: the GEMM
// C[M][N] = A[M][K] * B run COUNT times, where B is K x N, or N x K when LAYOUT is 't' (as
// nn.Linear weights are), and A is stored K x M when LAYOUT is 'a' (a weight gradient,
// dW = dY^T X). Prints GFLOP/s per shape and the time of the whole list.
// Threads: OMP_NUM_THREADS.
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

struct Shape {
  long m, n, k, count;
  char layout; ///< 'n', 't' (B transposed) or 'a' (A transposed)
};

double timeGemm(const Shape &s) {
  std::vector<float> a(size_t(s.m * s.k)), b(size_t(s.k * s.n)), c(size_t(s.m * s.n));
  std::mt19937 random(0);
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (float &x : a)
    x = uniform(random);
  for (float &x : b)
    x = uniform(random);
  const bool transA = s.layout == 'a', transB = s.layout == 't';
  const long lda = transA ? s.m : s.k, ldb = transB ? s.k : s.n;
  auto run = [&] {
    dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', s.m, s.n, s.k, 1.0f, a.data(), lda,
               b.data(), ldb, 0.0f, c.data(), s.n);
  };
  for (int i = 0; i < 3; ++i)
    run();
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (times.size() < 7 ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 0.5) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: gemm_roofline M,N,K,COUNT[,n|t|a] ...\n");
    return 2;
  }
  double total = 0, flops = 0;
  for (int i = 1; i < argc; ++i) {
    Shape s{0, 0, 0, 0, 'n'};
    if (std::sscanf(argv[i], "%ld,%ld,%ld,%ld,%c", &s.m, &s.n, &s.k, &s.count, &s.layout) < 4 ||
        s.m <= 0 || s.n <= 0 || s.k <= 0 || s.count <= 0 ||
        (s.layout != 'n' && s.layout != 't' && s.layout != 'a')) {
      std::fprintf(stderr, "gemm_roofline: bad shape '%s' (expected M,N,K,COUNT[,n|t|a])\n",
                   argv[i]);
      return 2;
    }
    double t = timeGemm(s), f = 2.0 * s.m * s.n * s.k;
    std::printf("shape m=%ld n=%ld k=%ld count=%ld layout=%c ms=%.4f gflops=%.1f\n", s.m, s.n,
                s.k, s.count, s.layout, t * 1e3, f / t * 1e-9);
    total += t * double(s.count);
    flops += f * double(s.count);
  }
  std::printf("total ms=%.3f gflops=%.1f\n", total * 1e3, flops / total * 1e-9);
  return 0;
}
