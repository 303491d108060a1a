// Row statistics of a (width, rows) input as PyTorch's LayerNorm computes them (mean, then the
// centred variance), with the row sums vectorised across the row: shared by the layer-norm kernel
// and its gradients.
#ifndef MIXERC_KERNELS_ROWSTATS_H
#define MIXERC_KERNELS_ROWSTATS_H

#include <Halide.h>

namespace mixerc {

/// A row sum over `r` (the row's width) vectorised across the row: rfactor into vector lanes,
/// computed wherever `sum` is. Widths that are not whole vectors stay scalar.
inline void vectoriseRowSum(Halide::Func sum, Halide::RDom r, int width, int lanes, Halide::Func at,
                            Halide::Var where) {
  sum.compute_at(at, where);
  if (width % lanes != 0)
    return;
  Halide::RVar outer("outer"), inner("inner");
  Halide::Var lane("lane");
  Halide::Func partial = sum.update().split(r.x, outer, inner, lanes).rfactor(inner, lane);
  // rfactor appends `lane` as the outermost dimension; stored innermost, the lanes of a row stay
  // one dense vector when the sums of several rows are computed together.
  partial.reorder_storage(lane, sum.args()[0]);
  partial.compute_at(at, where).vectorize(lane).update().vectorize(lane);
  // The lanes are then added as one horizontal vector reduction, not one scalar add each.
  sum.update().atomic().vectorize(inner);
}

/// Row statistics of a (width, rows) input as PyTorch's LayerNorm computes them (two passes).
struct RowStats {
  Halide::Func sum{"sum"}, squares{"squares"}, mean{"mean"}, rstd{"rstd"};
  Halide::RDom r;
  int width;
  RowStats(Halide::ImageParam input, int width, double epsilon) : r(0, width, "r"), width(width) {
    Halide::Var row("row");
    sum(row) = 0.0f;
    sum(row) += input(r, row);
    mean(row) = sum(row) / float(width);
    squares(row) = 0.0f;
    Halide::Expr centred = input(r, row) - mean(row);
    squares(row) += centred * centred;
    rstd(row) = 1.0f / Halide::sqrt(squares(row) / float(width) + float(epsilon));
  }
  /// Computes the statistics per row of `at`'s loop `where`, with vectorised sums.
  void computeAt(Halide::Func at, Halide::Var where, int lanes) {
    vectoriseRowSum(sum, r, width, lanes, at, where);
    vectoriseRowSum(squares, r, width, lanes, at, where);
    mean.compute_at(at, where);
    rstd.compute_at(at, where);
  }
};

} // namespace mixerc

#endif
