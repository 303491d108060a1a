/* classify: the C API in a dozen calls. Creates Mixer-S/16 (weights from a safetensors file if one
 * is given, else timm's initialisation), classifies a batch of synthetic images, prints the top-5
 * classes of each and the throughput. Usage: classify [WEIGHTS.safetensors] [BATCH] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mixer_s16.h"

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  const mixer_model_info *info = mixer_s16_info();
  long batch = argc > 2 ? atol(argv[2]) : 4;
  mixer_options opts;
  mixer_options_init(&opts);
  opts.seed = 42;
  mixer_s16_model *model = NULL;
  if (mixer_s16_create(&opts, &model) != MIXER_OK ||
      (argc > 1 && mixer_s16_load_weights(model, argv[1]) != MIXER_OK)) {
    fprintf(stderr, "classify: %s\n", mixer_last_error());
    mixer_s16_destroy(model);
    return 1;
  }
  size_t pixels = (size_t)(info->channels * info->height * info->width);
  float *images = malloc(sizeof(float) * pixels * (size_t)batch);
  float *logits = malloc(sizeof(float) * (size_t)(info->classes * batch));
  if (!images || !logits || batch < 1) {
    fprintf(stderr, "classify: bad batch or out of memory\n");
    return 1;
  }
  for (long b = 0; b < batch; ++b) /* smooth synthetic images, different per batch entry */
    for (size_t i = 0; i < pixels; ++i)
      images[(size_t)b * pixels + i] = sinf(0.001f * (float)i * (float)(b + 1));

  mixer_s16_infer(model, images, batch, logits); /* warm-up */
  double t0 = seconds();
  int runs = 5;
  for (int r = 0; r < runs; ++r)
    if (mixer_s16_infer(model, images, batch, logits) != MIXER_OK) {
      fprintf(stderr, "classify: %s\n", mixer_last_error());
      return 1;
    }
  double elapsed = (seconds() - t0) / runs;

  for (long b = 0; b < batch; ++b) {
    const float *l = logits + b * info->classes;
    printf("image %ld top-5:", b);
    int taken[5] = {-1, -1, -1, -1, -1};
    for (int k = 0; k < 5; ++k) {
      int best = -1;
      for (int c = 0; c < info->classes; ++c) {
        int used = 0;
        for (int j = 0; j < k; ++j)
          used |= taken[j] == c;
        if (!used && (best < 0 || l[c] > l[best]))
          best = c;
      }
      taken[k] = best;
      double z = 0; /* softmax probability of the class */
      for (int c = 0; c < info->classes; ++c)
        z += exp((double)(l[c] - l[taken[0]]));
      printf(" %d (p=%.3f)", best, exp((double)(l[best] - l[taken[0]])) / z);
    }
    printf("\n");
  }
  printf("%s: batch %ld in %.1f ms: %.2f images/s, %.1f GFLOP/s\n", info->name, batch,
         elapsed * 1e3, batch / elapsed, batch / elapsed * info->flops_per_image * 1e-9);
  free(images);
  free(logits);
  mixer_s16_destroy(model);
  return 0;
}
