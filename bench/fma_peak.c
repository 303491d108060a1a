/* fma_peak: the f32 FMA peak of this host, measured. Each thread runs 12 independent chains of
 * vector FMAs (enough to cover FMA latency x throughput on Zen 3/4/5) using the widest vectors the
 * CPU has (AVX-512 if present, else AVX2+FMA), for about a second. Prints GFLOP/s for 1 thread and
 * for the requested thread count (default 2). */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
static long long iterations = 20000000;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx512f"))) static float run_avx512(void) {
  __m512 acc[CHAINS], a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < CHAINS; ++i)
    acc[i] = _mm512_set1_ps((float)i);
  for (long long n = 0; n < iterations; ++n)
#pragma GCC unroll 16
    for (int i = 0; i < CHAINS; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  float sum = 0;
  for (int i = 0; i < CHAINS; ++i)
    sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

__attribute__((target("avx2,fma"))) static float run_avx2(void) {
  __m256 acc[CHAINS], a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < CHAINS; ++i)
    acc[i] = _mm256_set1_ps((float)i);
  for (long long n = 0; n < iterations; ++n)
#pragma GCC unroll 16
    for (int i = 0; i < CHAINS; ++i)
      acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float out[8], sum = 0;
  for (int i = 0; i < CHAINS; ++i) {
    _mm256_storeu_ps(out, acc[i]);
    for (int j = 0; j < 8; ++j)
      sum += out[j];
  }
  return sum;
}

static int lanes;
static volatile float sink;

static void *worker(void *arg) {
  (void)arg;
  sink = lanes == 16 ? run_avx512() : run_avx2();
  return NULL;
}

static double measure(int threads) {
  pthread_t tid[64];
  double t0 = now();
  for (int i = 0; i < threads; ++i)
    pthread_create(&tid[i], NULL, worker, NULL);
  for (int i = 0; i < threads; ++i)
    pthread_join(tid[i], NULL);
  double seconds = now() - t0;
  return threads * (double)iterations * CHAINS * lanes * 2.0 / seconds * 1e-9;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  if (threads < 1 || threads > 64) {
    fprintf(stderr, "fma_peak: threads must be 1..64\n");
    return 2;
  }
  __builtin_cpu_init();
  lanes = __builtin_cpu_supports("avx512f") ? 16 : 8;
  measure(1); /* warm up clocks */
  double best1 = 0, bestN = 0;
  for (int r = 0; r < 3; ++r) {
    double g1 = measure(1), gn = measure(threads);
    best1 = g1 > best1 ? g1 : best1;
    bestN = gn > bestN ? gn : bestN;
  }
  printf("isa=%s threads=%d gflops_1thread=%.1f gflops=%.1f\n", lanes == 16 ? "avx512" : "avx2",
         threads, best1, bestN);
  return 0;
}
