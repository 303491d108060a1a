/* train: a training loop through the C API. Creates the small 28x28 B-MLP of the tests (compiled
 * with training = true), fits it to a synthetic 10-class task (class k: a bright bar in row band k)
 * with AdamW and a cosine learning rate, prints the loss every 20 steps and the accuracy, and saves
 * a checkpoint (weights and optimizer state). Usage: train [STEPS] [OUT.safetensors] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bmlp_small.h"

enum { kBatch = 32 };

static void make_batch(unsigned *seed, float *images, int32_t *labels, size_t pixels) {
  for (int b = 0; b < kBatch; ++b) {
    int k = (int)(rand_r(seed) % 10);
    labels[b] = k;
    for (size_t i = 0; i < pixels; ++i) {
      int row = (int)(i / 28);
      float noise = (float)rand_r(seed) / (float)RAND_MAX - 0.5f;
      images[(size_t)b * pixels + i] = (row >= 2 + 2 * k && row < 4 + 2 * k ? 2.0f : 0.0f) + noise;
    }
  }
}

int main(int argc, char **argv) {
  const int steps = argc > 1 ? atoi(argv[1]) : 200;
  const mixer_model_info *info = bmlp_small_info();
  const size_t pixels = (size_t)(info->channels * info->height * info->width);
  float *images = malloc(sizeof(float) * pixels * kBatch);
  float *logits = malloc(sizeof(float) * (size_t)info->classes * kBatch);
  int32_t labels[kBatch];
  bmlp_small_model *model = NULL;
  if (!images || !logits || steps < 1 || bmlp_small_create(NULL, &model) != MIXER_OK) {
    fprintf(stderr, "train: %s\n", steps < 1 ? "STEPS must be >= 1" : mixer_last_error());
    return 1;
  }
  mixer_train_options opts;
  mixer_train_options_init(&opts); /* AdamW, weight decay 0.01 */
  unsigned seed = 1;
  for (int step = 0; step < steps; ++step) {
    opts.learning_rate = 2e-3f * 0.5f * (1.0f + cosf(3.14159265f * (float)step / (float)steps));
    make_batch(&seed, images, labels, pixels);
    float loss = 0;
    if (bmlp_small_train_step(model, images, labels, kBatch, &opts, &loss) != MIXER_OK) {
      fprintf(stderr, "train: %s\n", mixer_last_error());
      return 1;
    }
    if (step % 20 == 0 || step == steps - 1)
      printf("step %d loss %.4f\n", step, loss);
  }
  int correct = 0;
  make_batch(&seed, images, labels, pixels);
  if (bmlp_small_infer(model, images, kBatch, logits) != MIXER_OK) {
    fprintf(stderr, "train: %s\n", mixer_last_error());
    return 1;
  }
  for (int b = 0; b < kBatch; ++b) {
    int best = 0;
    for (int c = 1; c < info->classes; ++c)
      if (logits[b * info->classes + c] > logits[b * info->classes + best])
        best = c;
    correct += best == labels[b];
  }
  printf("accuracy %d/%d\n", correct, kBatch);
  if (argc > 2 && bmlp_small_save_weights(model, argv[2]) != MIXER_OK) {
    fprintf(stderr, "train: %s\n", mixer_last_error());
    return 1;
  }
  bmlp_small_destroy(model);
  free(images);
  free(logits);
  return correct >= kBatch * 9 / 10 ? 0 : 1;
}
