// "?x196x512": tensor shapes in the dialect's diagnostics.
#ifndef MIXER_LIB_SHAPESTRING_H
#define MIXER_LIB_SHAPESTRING_H

#include <string>

#include "llvm/ADT/StringExtras.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mixer {

inline std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  return llvm::join(llvm::map_range(shape,
                                    [](int64_t d) {
                                      return mlir::ShapedType::isDynamic(d) ? std::string("?")
                                                                            : std::to_string(d);
                                    }),
                    "x");
}

} // namespace mixer

#endif
