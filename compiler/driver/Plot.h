// --plot of mixerc train: the training loss and test accuracy per epoch as a PNG (two panels with
// axes, grid and tick labels), drawn with a built-in pixel font and encoded with zlib.
#ifndef MIXERC_DRIVER_PLOT_H
#define MIXERC_DRIVER_PLOT_H

#include <string>
#include <vector>

namespace mixerc {

struct PlotPoint {
  double epoch, loss, accuracy;
};

/// The epochs of a `mixerc train` CSV log (all runs appended to it, so a resumed run's plot
/// includes the epochs before the resume); a later row for an epoch replaces an earlier one.
std::vector<PlotPoint> readCurve(const std::string &csvPath);

/// Writes the PNG atomically (temporary file, then rename).
bool writePlot(const std::string &path, const std::vector<PlotPoint> &points, std::string *error);

} // namespace mixerc

#endif
