// A small command-line flag parser: --name VALUE, --name=VALUE, boolean --name, repeated
// flags, positional arguments, and generated --help text.
#ifndef BLOBSTATE_CLI_FLAGS_H_
#define BLOBSTATE_CLI_FLAGS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "blobstate/status.h"

namespace blobstate::cli {

class Flags {
 public:
  // `command` and `summary` head the help text; `positional` names the positional
  // arguments in it (e.g. "DIR"), empty for none.
  Flags(std::string command, std::string summary, std::string positional = "");

  // Registers flags; the pointers must outlive Parse. A default is whatever *out holds.
  void String(const std::string& name, std::string* out, const std::string& help,
              bool required = false);
  void Bool(const std::string& name, bool* out, const std::string& help);
  void Uint(const std::string& name, uint64_t* out, const std::string& help);
  // A duration: a whole number with a unit, s, m, h or d ("90s", "12h", "7d").
  void Duration(const std::string& name, std::chrono::seconds* out, const std::string& help);
  void Repeated(const std::string& name, std::vector<std::string>* out, const std::string& help,
                bool required = false);

  // Parses `args` (without the program and command names). kInvalidArgument naming the flag
  // for unknown flags, missing values, malformed numbers and missing required flags, or when
  // the number of positional arguments is not `positional_count`. Sets help_requested() on
  // --help or -h (and then checks nothing else).
  Status Parse(const std::vector<std::string>& args, size_t positional_count);

  bool help_requested() const { return help_requested_; }
  const std::vector<std::string>& positionals() const { return positionals_; }
  std::string Help() const;

 private:
  enum class Kind { kString, kBool, kUint, kDuration, kRepeated };
  struct Flag {
    std::string name;
    Kind kind;
    void* out;
    std::string help;
    bool required;
    bool seen = false;
  };
  Flag* Find(const std::string& name);
  Status Set(Flag& flag, const std::string& value);

  std::string command_, summary_, positional_;
  std::vector<Flag> flags_;
  std::vector<std::string> positionals_;
  bool help_requested_ = false;
};

}  // namespace blobstate::cli

#endif  // BLOBSTATE_CLI_FLAGS_H_
