// mixerc convert: checkpoints from elsewhere into the safetensors files (timm's names and
// layouts) that generated libraries load. Today: Google's Flax MLP-Mixer .npz checkpoints.
#ifndef MIXERC_DRIVER_CONVERT_H
#define MIXERC_DRIVER_CONVERT_H

namespace mixerc {

/// argv[1] is "convert"; returns the process exit status.
int convertVerb(int argc, char **argv);

} // namespace mixerc

#endif
