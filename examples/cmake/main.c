/* The example project's program: creates tiny_mixer, classifies two synthetic images, takes one
 * training step, and reports each status; exits non-zero on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tiny_mixer.h"

static int check(mixer_status status, const char *what) {
  if (status != MIXER_OK)
    fprintf(stderr, "%s failed (%d): %s\n", what, (int)status, mixer_last_error());
  return status != MIXER_OK;
}

int main(void) {
  const mixer_model_info *info = tiny_mixer_info();
  const int64_t batch = 2, pixels = info->channels * info->height * info->width;
  float *images = malloc(sizeof(float) * (size_t)(batch * pixels));
  float *logits = malloc(sizeof(float) * (size_t)(batch * info->classes));
  for (int64_t i = 0; i < batch * pixels; ++i)
    images[i] = (float)sin(0.01 * (double)i);
  int32_t labels[2] = {3, 7};
  mixer_options options;
  mixer_options_init(&options);
  options.seed = 1;
  tiny_mixer_model *model = NULL;
  float loss = 0;
  int failed = check(tiny_mixer_create(&options, &model), "tiny_mixer_create") ||
               check(tiny_mixer_infer(model, images, batch, logits), "tiny_mixer_infer") ||
               check(tiny_mixer_train_step(model, images, labels, batch, NULL, &loss),
                     "tiny_mixer_train_step");
  if (!failed)
    printf("%s: %lld parameters, logits[0] = %.6f, loss = %.4f\n", info->name,
           (long long)info->num_parameters, logits[0], loss);
  tiny_mixer_destroy(model);
  free(images);
  free(logits);
  return failed || !isfinite(loss);
}
