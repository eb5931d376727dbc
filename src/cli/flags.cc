#include "cli/flags.h"

#include <charconv>

#include "blobstate/history.h"

namespace blobstate::cli {

Flags::Flags(std::string command, std::string summary, std::string positional)
    : command_(std::move(command)),
      summary_(std::move(summary)),
      positional_(std::move(positional)) {}

void Flags::String(const std::string& name, std::string* out, const std::string& help,
                   bool required) {
  flags_.push_back({name, Kind::kString, out, help, required});
}
void Flags::Bool(const std::string& name, bool* out, const std::string& help) {
  flags_.push_back({name, Kind::kBool, out, help, false});
}
void Flags::Uint(const std::string& name, uint64_t* out, const std::string& help) {
  flags_.push_back({name, Kind::kUint, out, help, false});
}
void Flags::Duration(const std::string& name, std::chrono::seconds* out, const std::string& help) {
  flags_.push_back({name, Kind::kDuration, out, help, false});
}
void Flags::Repeated(const std::string& name, std::vector<std::string>* out,
                     const std::string& help, bool required) {
  flags_.push_back({name, Kind::kRepeated, out, help, required});
}

Flags::Flag* Flags::Find(const std::string& name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Status Flags::Set(Flag& flag, const std::string& value) {
  flag.seen = true;
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.out) = value;
      return Status::Ok();
    case Kind::kRepeated:
      static_cast<std::vector<std::string>*>(flag.out)->push_back(value);
      return Status::Ok();
    case Kind::kUint: {
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || end != value.data() + value.size()) {
        return InvalidArgumentError("--" + flag.name + " expects a whole number, got '" + value +
                                    "'");
      }
      *static_cast<uint64_t*>(flag.out) = v;
      return Status::Ok();
    }
    case Kind::kDuration: {
      uint64_t v = 0;
      const char* last = value.data() + value.size();
      auto [end, ec] = std::from_chars(value.data(), last, v);
      const std::string unit(end, last);
      const uint64_t scale = unit == "s"   ? 1
                             : unit == "m" ? 60
                             : unit == "h" ? 3600
                             : unit == "d" ? 86400
                                           : 0;
      const uint64_t most = static_cast<uint64_t>(kMaxPolicyPeriod.count());
      if (ec != std::errc() || end == value.data() || scale == 0 || v > most / scale) {
        return InvalidArgumentError("--" + flag.name +
                                    " expects a duration such as 90s, 15m, 12h or 7d, at most "
                                    "36500d, got '" +
                                    value + "'");
      }
      *static_cast<std::chrono::seconds*>(flag.out) =
          std::chrono::seconds(static_cast<int64_t>(v * scale));
      return Status::Ok();
    }
    case Kind::kBool:
      if (value == "true" || value == "1") {
        *static_cast<bool*>(flag.out) = true;
      } else if (value == "false" || value == "0") {
        *static_cast<bool*>(flag.out) = false;
      } else {
        return InvalidArgumentError("--" + flag.name + " expects true or false, got '" + value +
                                    "'");
      }
      return Status::Ok();
  }
  return InternalError("unknown flag kind");
}

Status Flags::Parse(const std::vector<std::string>& args, size_t positional_count) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      return Status::Ok();
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positionals_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    size_t eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    Flag* flag = Find(name);
    if (flag == nullptr) {
      return InvalidArgumentError("unknown flag --" + name + " for '" + command_ +
                                  "' (see blobstate " + command_ + " --help)");
    }
    if (!has_value && flag->kind == Kind::kBool) {
      value = "true";
    } else if (!has_value) {
      if (i + 1 == args.size()) return InvalidArgumentError("--" + name + " needs a value");
      value = args[++i];
    }
    RETURN_IF_ERROR(Set(*flag, value));
  }
  for (const Flag& f : flags_) {
    if (f.required && !f.seen) return InvalidArgumentError("--" + f.name + " is required");
  }
  if (positionals_.size() != positional_count) {
    return InvalidArgumentError("'" + command_ + "' takes " +
                                (positional_count ? positional_ : std::string("no arguments")) +
                                ", got " + std::to_string(positionals_.size()) + " argument(s)");
  }
  return Status::Ok();
}

std::string Flags::Help() const {
  std::string out = "usage: blobstate " + command_ + " [flags]" +
                    (positional_.empty() ? "" : " " + positional_) + "\n\n" + summary_ +
                    "\n\nflags:\n";
  for (const Flag& f : flags_) {
    std::string left = "  --" + f.name;
    if (f.kind != Kind::kBool) left += " VALUE";
    if (left.size() < 26)
      left.resize(26, ' ');
    else
      left += "  ";
    out += left + f.help + (f.required ? " (required)" : "") +
           (f.kind == Kind::kRepeated ? " (repeatable)" : "") + "\n";
  }
  out += "  --help                  this text\n";
  return out;
}

}  // namespace blobstate::cli
