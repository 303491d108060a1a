// A small JSON reader for safetensors headers: objects, arrays, strings, integers, booleans and
// null. Malformed input yields an error message with the byte offset; nothing is thrown.
#ifndef MIXER_RUNTIME_JSON_HEADER_H
#define MIXER_RUNTIME_JSON_HEADER_H

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mixer::rt::json {

struct Value {
  enum class Kind { Null, Bool, Integer, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  int64_t integer = 0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;

  const Value *get(const std::string &key) const;
};

/// Parses `text`; returns false and sets `error` when it is not one well-formed JSON value.
bool parse(const std::string &text, Value *out, std::string *error);

/// Appends `s` as a JSON string literal.
void append_quoted(std::string &out, const std::string &s);

} // namespace mixer::rt::json

#endif
