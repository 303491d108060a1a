// The text of a schedule record: `key=value` items separated by spaces, every key of the family
// once and nothing else; values are counts, or true/false for flags. One reader for every
// schedule family, so that the database's records are checked alike.
#ifndef MIXERC_SCHEDULE_RECORDTEXT_H
#define MIXERC_SCHEDULE_RECORDTEXT_H

#include <string>
#include <vector>

namespace mixerc {

struct RecordField {
  const char *key;
  int *count = nullptr;  ///< a count in [0, 2^20]
  bool *flag = nullptr;  ///< or true / false
};

/// Fills the fields from `text`; false with a message naming the family, the record and the
/// item (unknown, given twice, missing, or not a count / flag) otherwise. The fields are
/// written only when the whole record reads.
bool parseRecordText(const char *family, const std::string &text,
                     const std::vector<RecordField> &fields, std::string *error);

} // namespace mixerc

#endif
