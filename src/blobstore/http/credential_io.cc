#include "blobstore/http/credential_io.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "util/fs.h"

namespace blobstate {
namespace {

constexpr size_t kMaxCredentialFile = 1 << 20;

// Appends the UTF-8 encoding of code point `cp` (a BMP character) to `out`.
void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A JSON reader of one flat object; each method consumes from `rest`.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : rest_(text) {}

  bool Consume(char c) {
    SkipSpace();
    if (rest_.empty() || rest_.front() != c) return false;
    rest_.remove_prefix(1);
    return true;
  }
  bool AtEnd() {
    SkipSpace();
    return rest_.empty();
  }
  // A string, decoded.
  std::optional<std::string> String() {
    if (!Consume('"')) return std::nullopt;
    std::string out;
    while (!rest_.empty()) {
      char c = rest_.front();
      rest_.remove_prefix(1);
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (rest_.empty()) return std::nullopt;
      char e = rest_.front();
      rest_.remove_prefix(1);
      static constexpr std::string_view kFrom = "\"\\/bfnrt", kTo = "\"\\/\b\f\n\r\t";
      if (size_t i = kFrom.find(e); i != std::string_view::npos) {
        out += kTo[i];
      } else if (e == 'u' && rest_.size() >= 4) {
        char* end = nullptr;
        const std::string hex(rest_.substr(0, 4));
        const unsigned long cp = std::strtoul(hex.c_str(), &end, 16);
        if (end != hex.c_str() + 4) return std::nullopt;
        AppendUtf8(static_cast<uint32_t>(cp), out);
        rest_.remove_prefix(4);
      } else {
        return std::nullopt;
      }
    }
    return std::nullopt;
  }
  // A value: a string, or a number, true, false or null as written.
  std::optional<std::string> Value() {
    SkipSpace();
    if (!rest_.empty() && rest_.front() == '"') return String();
    size_t n = 0;
    while (n < rest_.size() && (std::isalnum(static_cast<unsigned char>(rest_[n])) ||
                                rest_[n] == '-' || rest_[n] == '+' || rest_[n] == '.')) {
      ++n;
    }
    if (n == 0) return std::nullopt;  // an object, an array, or garbage
    std::string out(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return out;
  }

 private:
  void SkipSpace() {
    while (!rest_.empty() && std::isspace(static_cast<unsigned char>(rest_.front()))) {
      rest_.remove_prefix(1);
    }
  }
  std::string_view rest_;
};

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

Clock SystemClock() {
  return [] { return std::chrono::system_clock::now(); };
}

std::string_view TrimSpace(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  return v;
}

Result<std::string> WatchedFile::Read(bool* changed) {
  if (changed != nullptr) *changed = false;
  std::lock_guard<std::mutex> lock(mu_);
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0) {
    const Identity now{st.st_dev, st.st_ino, st.st_size,
                       st.st_mtim.tv_sec * 1'000'000'000ll + st.st_mtim.tv_nsec};
    if (now != identity_ || !contents_) {
      Result<std::string> text = ReadSmallFile(path_, kMaxCredentialFile);
      if (text.ok()) {
        identity_ = now;
        contents_ = std::move(*text);
        if (changed != nullptr) *changed = true;
      } else if (!contents_) {
        return text.status();
      }
    }
  } else if (!contents_) {
    return ErrnoError("cannot read " + path_, errno);
  }
  return *contents_;
}

std::optional<std::string> IniValue(std::string_view text, std::string_view section,
                                    std::string_view key) {
  bool in_section = false;
  while (!text.empty()) {
    size_t nl = std::min(text.find('\n'), text.size());
    std::string_view line = TrimSpace(text.substr(0, nl));
    text = nl < text.size() ? text.substr(nl + 1) : std::string_view();
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      in_section = TrimSpace(line.substr(1, line.size() - 2)) == section;
      continue;
    }
    size_t eq = line.find('=');
    if (!in_section || eq == std::string_view::npos) continue;
    if (TrimSpace(line.substr(0, eq)) == key) return std::string(TrimSpace(line.substr(eq + 1)));
  }
  return std::nullopt;
}

Result<std::map<std::string, std::string>> ParseFlatJson(std::string_view text) {
  const Status bad = InvalidArgumentError("not a flat JSON object");
  JsonReader in(text);
  std::map<std::string, std::string> members;
  if (!in.Consume('{')) return bad;
  if (in.Consume('}')) return in.AtEnd() ? Result(members) : bad;
  do {
    std::optional<std::string> key = in.String();
    if (!key || !in.Consume(':')) return bad;
    std::optional<std::string> value = in.Value();
    if (!value) return bad;
    members[*key] = std::move(*value);
  } while (in.Consume(','));
  if (!in.Consume('}') || !in.AtEnd()) return bad;
  return members;
}

std::optional<std::chrono::system_clock::time_point> ParseIsoTime(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) {
      rest.remove_prefix(1);
    }
  }
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

}  // namespace blobstate
