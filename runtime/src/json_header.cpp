// Recursive-descent JSON parsing for safetensors headers (see json_header.h).
#include "json_header.h"

#include <cstdio>

namespace mixer::rt::json {
namespace {

constexpr int kMaxDepth = 16; // safetensors headers nest 3 deep; refuse hostile nesting

class Parser {
public:
  explicit Parser(const std::string &text) : text_(text) {}

  bool parse_document(Value *out) {
    if (!parse_value(out, 0))
      return false;
    skip_space();
    if (pos_ != text_.size())
      return error("unexpected trailing characters");
    return true;
  }
  const std::string &message() const { return message_; }

private:
  bool error(const char *what) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s at byte %zu of the JSON header", what, pos_);
    message_ = buf;
    return false;
  }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t'))
      ++pos_;
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool literal(const char *word) {
    size_t n = std::char_traits<char>::length(word);
    if (text_.compare(pos_, n, word) != 0)
      return error("invalid literal");
    pos_ += n;
    return true;
  }

  bool parse_value(Value *out, int depth) {
    if (depth > kMaxDepth)
      return error("nesting too deep");
    skip_space();
    if (pos_ >= text_.size())
      return error("unexpected end");
    char c = text_[pos_];
    if (c == '{')
      return parse_object(out, depth);
    if (c == '[')
      return parse_array(out, depth);
    if (c == '"') {
      out->kind = Value::Kind::String;
      return parse_string(&out->string);
    }
    if (c == 't' || c == 'f') {
      out->kind = Value::Kind::Bool;
      out->boolean = c == 't';
      return literal(c == 't' ? "true" : "false");
    }
    if (c == 'n') {
      out->kind = Value::Kind::Null;
      return literal("null");
    }
    return parse_number(out);
  }

  bool parse_number(Value *out) {
    size_t start = pos_;
    bool negative = pos_ < text_.size() && text_[pos_] == '-';
    if (negative)
      ++pos_;
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9')
      return error("expected a value");
    uint64_t magnitude = 0;
    bool overflow = false;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      unsigned digit = unsigned(text_[pos_++] - '0');
      if (magnitude > (uint64_t(INT64_MAX) - digit) / 10)
        overflow = true;
      else
        magnitude = magnitude * 10 + digit;
    }
    bool fractional = false;
    while (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E' ||
                                   text_[pos_] == '+' || text_[pos_] == '-' ||
                                   (text_[pos_] >= '0' && text_[pos_] <= '9'))) {
      fractional = true;
      ++pos_;
    }
    if (fractional) {
      out->kind = Value::Kind::Number; // kept only as a kind: headers need integers alone
      return true;
    }
    if (overflow) {
      pos_ = start;
      return error("integer out of range");
    }
    out->kind = Value::Kind::Integer;
    out->integer = negative ? -int64_t(magnitude) : int64_t(magnitude);
    return true;
  }

  bool parse_string(std::string *out) {
    ++pos_; // opening quote
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return error("control character in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size())
        break;
      char e = text_[pos_++];
      switch (e) {
      case '"': case '\\': case '/': out->push_back(e); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        if (pos_ + 4 > text_.size())
          return error("truncated \\u escape");
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) {
          char h = text_[pos_++];
          code <<= 4;
          if (h >= '0' && h <= '9') code |= unsigned(h - '0');
          else if (h >= 'a' && h <= 'f') code |= unsigned(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F') code |= unsigned(h - 'A' + 10);
          else return error("bad \\u escape");
        }
        // Names are ASCII in practice; encode the BMP code point as UTF-8.
        if (code < 0x80) {
          out->push_back(char(code));
        } else if (code < 0x800) {
          out->push_back(char(0xC0 | (code >> 6)));
          out->push_back(char(0x80 | (code & 0x3F)));
        } else {
          out->push_back(char(0xE0 | (code >> 12)));
          out->push_back(char(0x80 | ((code >> 6) & 0x3F)));
          out->push_back(char(0x80 | (code & 0x3F)));
        }
        break;
      }
      default:
        return error("bad escape in string");
      }
    }
    return error("unterminated string");
  }

  bool parse_array(Value *out, int depth) {
    ++pos_;
    out->kind = Value::Kind::Array;
    if (consume(']'))
      return true;
    do {
      out->array.emplace_back();
      if (!parse_value(&out->array.back(), depth + 1))
        return false;
    } while (consume(','));
    return consume(']') || error("expected ',' or ']'");
  }

  bool parse_object(Value *out, int depth) {
    ++pos_;
    out->kind = Value::Kind::Object;
    if (consume('}'))
      return true;
    do {
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"')
        return error("expected a string key");
      std::string key;
      if (!parse_string(&key))
        return false;
      if (!consume(':'))
        return error("expected ':'");
      for (const auto &entry : out->object)
        if (entry.first == key)
          return error("duplicate key");
      out->object.emplace_back(std::move(key), Value{});
      if (!parse_value(&out->object.back().second, depth + 1))
        return false;
    } while (consume(','));
    return consume('}') || error("expected ',' or '}'");
  }

  const std::string &text_;
  size_t pos_ = 0;
  std::string message_;
};

} // namespace

const Value *Value::get(const std::string &key) const {
  for (const auto &entry : object)
    if (entry.first == key)
      return &entry.second;
  return nullptr;
}

bool parse(const std::string &text, Value *out, std::string *error) {
  Parser parser(text);
  if (parser.parse_document(out))
    return true;
  *error = parser.message();
  return false;
}

void append_quoted(std::string &out, const std::string &s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

} // namespace mixer::rt::json
