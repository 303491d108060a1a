// mixerc convert --resize-from A --to B: a checkpoint of spec A as a checkpoint of spec B, which
// differs from A in its image resolution only (the paper fine-tunes at 448 after pre-training at
// 224). MLP-Mixer: B's patch grid must be an integer multiple KH x KW of A's, and B's token-mixing
// hidden width KH*KW times A's; each token-mixing MLP becomes block diagonal, one copy of A's per
// strided part of the grid (see Resize.cpp). ConvMixer: every weight is independent of the
// resolution and carries over unchanged. B-MLP embeds the flattened image: refused. A training
// checkpoint's optimizer state is not carried over (OUT holds weights and BatchNorm state).
#ifndef MIXERC_DRIVER_RESIZE_H
#define MIXERC_DRIVER_RESIZE_H

#include <string>

namespace mixerc {

/// Reads `input` (a safetensors file for `fromSpec`) and writes `output` for `toSpec`; false
/// with a message naming the file, tensor or spec key otherwise (nothing is written then).
bool resizeCheckpoint(const std::string &input, const std::string &output,
                      const std::string &fromSpec, const std::string &toSpec,
                      std::string *error);

} // namespace mixerc

#endif
