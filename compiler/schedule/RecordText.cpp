// The schedule records' text (see RecordText.h).
#include "schedule/RecordText.h"

#include <cstdlib>

#include <fmt/format.h>

namespace mixerc {

bool parseRecordText(const char *family, const std::string &text,
                     const std::vector<RecordField> &fields, std::string *error) {
  std::vector<bool> seen(fields.size(), false);
  std::vector<long> values(fields.size(), 0);
  auto refuse = [&](const std::string &why) {
    *error = fmt::format("{} schedule '{}': {}", family, text, why);
    return false;
  };
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = text.find(' ', pos);
    if (end == std::string::npos)
      end = text.size();
    const std::string item = text.substr(pos, end - pos);
    pos = end;
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    size_t f = 0;
    while (f < fields.size() && key != fields[f].key)
      ++f;
    if (f == fields.size() || eq == std::string::npos)
      return refuse(fmt::format("unknown item '{}'", item));
    if (seen[f])
      return refuse(fmt::format("'{}' given twice", key));
    seen[f] = true;
    if (fields[f].flag) {
      if (value != "true" && value != "false")
        return refuse(fmt::format("'{}' is not true or false", item));
      values[f] = value == "true";
      continue;
    }
    char *stop = nullptr;
    const long v = std::strtol(value.c_str(), &stop, 10);
    if (value.empty() || *stop || v < 0 || v > 1 << 20)
      return refuse(fmt::format("'{}' is not a count", item));
    values[f] = v;
  }
  for (size_t f = 0; f < fields.size(); ++f)
    if (!seen[f])
      return refuse(fmt::format("no '{}'", fields[f].key));
  for (size_t f = 0; f < fields.size(); ++f) {
    if (fields[f].flag)
      *fields[f].flag = values[f] != 0;
    else
      *fields[f].count = int(values[f]);
  }
  return true;
}

} // namespace mixerc
