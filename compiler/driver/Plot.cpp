// See Plot.h. The PNG is 8-bit RGB, one IDAT of unfiltered rows (PNG spec, ISO/IEC 15948).
#include "driver/Plot.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <zlib.h>

namespace mixerc {
namespace {

/// 3x5 glyphs, one row per 3-bit number (bit 2 = left column).
const std::map<char, std::array<uint8_t, 5>> kFont = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 2, 2}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'.', {0, 0, 0, 0, 2}}, {'%', {5, 1, 2, 4, 5}},
    {'A', {2, 5, 7, 5, 5}}, {'C', {7, 4, 4, 4, 7}}, {'E', {7, 4, 6, 4, 7}}, {'H', {5, 5, 7, 5, 5}},
    {'I', {7, 2, 2, 2, 7}}, {'L', {4, 4, 4, 4, 7}}, {'N', {7, 5, 5, 5, 5}}, {'O', {7, 5, 5, 5, 7}},
    {'P', {7, 5, 7, 4, 4}}, {'R', {6, 5, 6, 5, 5}}, {'S', {7, 4, 7, 1, 7}}, {'T', {7, 2, 2, 2, 2}},
    {'U', {5, 5, 5, 5, 7}}, {'Y', {5, 5, 2, 2, 2}}, {' ', {0, 0, 0, 0, 0}}};

struct Image {
  int width, height;
  std::vector<uint8_t> rgb;
  Image(int w, int h) : width(w), height(h), rgb(size_t(w * h * 3), 255) {}
  void set(int x, int y, uint32_t color) {
    if (x < 0 || y < 0 || x >= width || y >= height)
      return;
    uint8_t *p = &rgb[size_t((y * width + x) * 3)];
    p[0] = uint8_t(color >> 16), p[1] = uint8_t(color >> 8), p[2] = uint8_t(color);
  }
  void line(double x0, double y0, double x1, double y1, uint32_t color, int thick = 1) {
    int steps = int(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int i = 0; i <= steps; ++i) {
      double t = double(i) / steps;
      for (int d = 0; d < thick; ++d)
        set(int(std::lround(x0 + (x1 - x0) * t)) + d, int(std::lround(y0 + (y1 - y0) * t)), color);
    }
  }
  /// Text at (x, y) in glyphs scaled by 2.
  void text(int x, int y, const std::string &s, uint32_t color) {
    for (char ch : s) {
      auto glyph = kFont.find(char(std::toupper(ch)));
      if (glyph != kFont.end())
        for (int row = 0; row < 5; ++row)
          for (int col = 0; col < 3; ++col)
            if (glyph->second[size_t(row)] >> (2 - col) & 1)
              for (int dy = 0; dy < 2; ++dy)
                for (int dx = 0; dx < 2; ++dx)
                  set(x + col * 2 + dx, y + row * 2 + dy, color);
      x += 8;
    }
  }
};

/// One panel: axes, horizontal grid with 5 labelled ticks, the series as a line with dots.
void panel(Image &img, int left, int top, int w, int h, const std::string &title,
           const std::vector<PlotPoint> &points, double PlotPoint::*value, uint32_t color) {
  double lo = points.front().*value, hi = lo;
  for (const PlotPoint &p : points)
    lo = std::min(lo, p.*value), hi = std::max(hi, p.*value);
  double pad = std::max((hi - lo) * 0.1, 1e-3);
  lo -= pad, hi += pad;
  double first = points.front().epoch, last = std::max(points.back().epoch, first + 1);
  auto px = [&](double e) { return left + (e - first) / (last - first) * w; };
  auto py = [&](double v) { return top + h - (v - lo) / (hi - lo) * h; };
  for (int i = 0; i <= 4; ++i) {
    double v = lo + (hi - lo) * i / 4;
    img.line(left, py(v), left + w, py(v), 0xdddddd);
    img.text(left - 48, int(py(v)) - 5, fmt::format("{:.{}f}", v, hi - lo < 1 ? 3 : 1), 0x444444);
  }
  img.line(left, top, left, top + h, 0x000000);
  img.line(left, top + h, left + w, top + h, 0x000000);
  for (const PlotPoint &p : points)
    img.text(int(px(p.epoch)) - 3, top + h + 6, fmt::format("{:g}", p.epoch), 0x444444);
  img.text(left, top - 18, title, 0x000000);
  for (size_t i = 0; i < points.size(); ++i) {
    double x = px(points[i].epoch), y = py(points[i].*value);
    if (i > 0)
      img.line(px(points[i - 1].epoch), py(points[i - 1].*value), x, y, color, 2);
    for (int dy = -2; dy <= 2; ++dy)
      img.line(x - 2, y + dy, x + 2, y + dy, color);
  }
}

void chunk(std::string *png, const char *type, const std::string &data) {
  uint32_t n = uint32_t(data.size());
  for (int s = 24; s >= 0; s -= 8)
    png->push_back(char(n >> s));
  std::string body = std::string(type, 4) + data;
  *png += body;
  uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef *>(body.data()), uInt(body.size())));
  for (int s = 24; s >= 0; s -= 8)
    png->push_back(char(crc >> s));
}

std::string encodePng(const Image &img) {
  std::string raw;
  for (int y = 0; y < img.height; ++y) {
    raw.push_back('\0'); // filter: none
    raw.append(reinterpret_cast<const char *>(&img.rgb[size_t(y * img.width * 3)]),
               size_t(img.width * 3));
  }
  uLongf size = compressBound(uLong(raw.size()));
  std::string compressed(size, '\0');
  compress2(reinterpret_cast<Bytef *>(compressed.data()), &size,
            reinterpret_cast<const Bytef *>(raw.data()), uLong(raw.size()), 9);
  compressed.resize(size);
  std::string png("\x89PNG\r\n\x1a\n", 8), header;
  for (uint32_t v : {uint32_t(img.width), uint32_t(img.height)})
    for (int s = 24; s >= 0; s -= 8)
      header.push_back(char(v >> s));
  header += std::string("\x08\x02\x00\x00\x00", 5); // 8-bit RGB, deflate, no filter, no interlace
  chunk(&png, "IHDR", header);
  chunk(&png, "IDAT", compressed);
  chunk(&png, "IEND", "");
  return png;
}

} // namespace

std::vector<PlotPoint> readCurve(const std::string &csvPath) {
  std::ifstream in(csvPath);
  std::map<double, PlotPoint> byEpoch;
  std::string line;
  std::getline(in, line); // header
  while (std::getline(in, line)) {
    std::stringstream row(line);
    std::string epoch, steps, loss, accuracy;
    if (std::getline(row, epoch, ',') && std::getline(row, steps, ',') &&
        std::getline(row, loss, ',') && std::getline(row, accuracy, ','))
      byEpoch[std::atof(epoch.c_str())] = {std::atof(epoch.c_str()), std::atof(loss.c_str()),
                                           std::atof(accuracy.c_str())};
  }
  std::vector<PlotPoint> points;
  for (auto &[epoch, p] : byEpoch)
    points.push_back(p);
  return points;
}

bool writePlot(const std::string &path, const std::vector<PlotPoint> &points, std::string *error) {
  if (points.empty())
    return true;
  Image img(760, 300);
  panel(img, 70, 40, 280, 220, "TRAIN LOSS", points, &PlotPoint::loss, 0x1f77b4);
  panel(img, 450, 40, 280, 220, "TEST ACCURACY %", points, &PlotPoint::accuracy, 0xd62728);
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary);
    out << encodePng(img);
    if (!out) {
      *error = fmt::format("{}: cannot write the plot", path);
      return false;
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    *error = fmt::format("{}: cannot move the plot into place", path);
    std::remove(temp.c_str());
    return false;
  }
  return true;
}

} // namespace mixerc
