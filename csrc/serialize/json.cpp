// The strict JSON reader (recursive descent with a depth limit) and the string quoting used by
// the safetensors writer. Every malformed input throws ValueError with the byte offset.
#include "serialize/json.h"

#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "core/error.h"

namespace ranvier::serialize::json {

const Value* Value::find(const std::string& key) const {
  for (const auto& m : members)
    if (m.first == key) return &m.second;
  return nullptr;
}

const char* Value::kind_name() const {
  switch (kind) {
    case Kind::Null: return "null";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "number";
    case Kind::String: return "string";
    case Kind::Array: return "array";
    case Kind::Object: return "object";
  }
  return "?";
}

namespace {

// Length of the UTF-8 sequence starting at p (at most n bytes available), or 0 if malformed.
size_t utf8_sequence(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
  else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
  else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xc0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += char(0xe0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  } else {
    out += char(0xf0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3f));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  }
}

class Parser {
 public:
  Parser(const char* data, size_t size, int max_depth)
      : p_(data), n_(size), max_depth_(max_depth) {}

  Value parse_document() {
    skip_ws();
    Value v = parse_value(0);
    skip_ws();
    if (i_ != n_) fail("unexpected data after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw_error(ErrorKind::Value, str_cat("invalid JSON at byte ", i_, ": ", what));
  }
  bool at_end() const { return i_ >= n_; }
  char peek() const { return at_end() ? '\0' : p_[i_]; }
  void skip_ws() {
    while (!at_end() && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r'))
      ++i_;
  }
  void expect(char c) {
    if (at_end()) fail(str_cat("expected '", c, "', got the end of the text"));
    if (p_[i_] != c) fail(str_cat("expected '", c, "'"));
    ++i_;
  }
  void expect_word(const char* w) {
    size_t len = std::strlen(w);
    if (n_ - i_ < len || std::memcmp(p_ + i_, w, len) != 0) fail("unexpected character");
    i_ += len;
  }

  Value parse_value(int depth) {
    if (depth > max_depth_) fail(str_cat("nesting deeper than ", max_depth_, " levels"));
    if (at_end()) fail("expected a value, got the end of the text");
    Value v;
    char c = p_[i_];
    if (c == '{') {
      parse_object(v, depth);
    } else if (c == '[') {
      parse_array(v, depth);
    } else if (c == '"') {
      v.kind = Value::Kind::String;
      v.string = parse_string();
    } else if (c == 't') {
      expect_word("true");
      v.kind = Value::Kind::Bool;
      v.boolean = true;
    } else if (c == 'f') {
      expect_word("false");
      v.kind = Value::Kind::Bool;
    } else if (c == 'n') {
      expect_word("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      parse_number(v);
    } else {
      fail("unexpected character");
    }
    return v;
  }

  void parse_object(Value& v, int depth) {
    v.kind = Value::Kind::Object;
    std::unordered_set<std::string> seen;
    expect('{');
    skip_ws();
    if (peek() == '}') {
      ++i_;
      return;
    }
    while (true) {
      skip_ws();
      if (peek() != '"') fail("expected a string key");
      size_t key_at = i_;
      std::string key = parse_string();
      if (!seen.insert(key).second) {
        i_ = key_at;
        fail("duplicate key \"" + key + "\"");
      }
      skip_ws();
      expect(':');
      skip_ws();
      Value item = parse_value(depth + 1);
      v.members.emplace_back(std::move(key), std::move(item));
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      return;
    }
  }

  void parse_array(Value& v, int depth) {
    v.kind = Value::Kind::Array;
    expect('[');
    skip_ws();
    if (peek() == ']') {
      ++i_;
      return;
    }
    while (true) {
      skip_ws();
      v.items.push_back(parse_value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(']');
      return;
    }
  }

  uint32_t parse_hex4() {
    if (n_ - i_ < 4) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = p_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
      else fail("bad hex digit in \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (at_end()) fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(p_[i_]);
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) fail("control character inside a string");
      if (c == '\\') {
        ++i_;
        if (at_end()) fail("unterminated escape");
        char e = p_[i_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = parse_hex4();
            if (cp >= 0xdc00 && cp <= 0xdfff) fail("lone low surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (n_ - i_ < 2 || p_[i_] != '\\' || p_[i_ + 1] != 'u')
                fail("lone high surrogate in \\u escape");
              i_ += 2;
              uint32_t lo = parse_hex4();
              if (lo < 0xdc00 || lo > 0xdfff) fail("bad surrogate pair in \\u escape");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            append_utf8(out, cp);
            break;
          }
          default: --i_; fail("unknown escape");
        }
        continue;
      }
      size_t len = utf8_sequence(reinterpret_cast<const unsigned char*>(p_ + i_), n_ - i_);
      if (len == 0) fail("invalid UTF-8 inside a string");
      out.append(p_ + i_, len);
      i_ += len;
    }
  }

  void parse_number(Value& v) {
    size_t start = i_;
    bool neg = false;
    if (peek() == '-') {
      neg = true;
      ++i_;
    }
    if (at_end() || !(p_[i_] >= '0' && p_[i_] <= '9')) fail("expected a digit");
    if (p_[i_] == '0' && i_ + 1 < n_ && p_[i_ + 1] >= '0' && p_[i_ + 1] <= '9')
      fail("leading zeros are not allowed");
    size_t digits_start = i_;
    while (!at_end() && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
    size_t digits_end = i_;
    bool is_float = false;
    if (peek() == '.') {
      is_float = true;
      ++i_;
      if (at_end() || !(p_[i_] >= '0' && p_[i_] <= '9')) fail("expected a digit after '.'");
      while (!at_end() && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
    }
    if (peek() == 'e' || peek() == 'E') {
      is_float = true;
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (at_end() || !(p_[i_] >= '0' && p_[i_] <= '9')) fail("expected a digit in the exponent");
      while (!at_end() && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
    }
    if (!is_float) {
      // Exact int64 with overflow detection (accumulate as a negative number to reach INT64_MIN).
      int64_t acc = 0;
      for (size_t k = digits_start; k < digits_end; ++k) {
        int d = p_[k] - '0';
        if (acc < (INT64_MIN + d) / 10) {
          i_ = start;
          fail("integer out of the int64 range");
        }
        acc = acc * 10 - d;
      }
      if (!neg) {
        if (acc == INT64_MIN) {
          i_ = start;
          fail("integer out of the int64 range");
        }
        acc = -acc;
      }
      v.kind = Value::Kind::Int;
      v.integer = acc;
      return;
    }
    std::string text(p_ + start, i_ - start);
    v.kind = Value::Kind::Float;
    v.number = std::strtod(text.c_str(), nullptr);
  }

  const char* p_;
  size_t n_;
  size_t i_ = 0;
  int max_depth_;
};

}  // namespace

Value parse(const char* data, size_t size, int max_depth) {
  return Parser(data, size, max_depth).parse_document();
}

bool is_valid_utf8(const std::string& s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  while (i < n) {
    size_t len = utf8_sequence(p + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string quote(const std::string& s) {
  RV_CHECK_VALUE(is_valid_utf8(s), "JSON strings must be valid UTF-8, got bytes that are not");
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace ranvier::serialize::json
