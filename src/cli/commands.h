// The blobstate commands. Each parses its own flags (`args` excludes the program and
// command names), does its work, and prints its result through `out`.
#ifndef BLOBSTATE_CLI_COMMANDS_H_
#define BLOBSTATE_CLI_COMMANDS_H_

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "blobstate/gc.h"
#include "blobstate/status.h"
#include "cli/flags.h"

namespace blobstate::cli {

// Where a command's results go: stdout.
class CommandOutput {
 public:
  void Print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  Status Help(const std::string& text) {
    Print(text);
    return Status::Ok();
  }
  // flags.Parse, remembering a failure as a usage error (exit status 2), and whether
  // --json was given (also when the flags do not parse).
  Status Parse(Flags& flags, const std::vector<std::string>& args, size_t positional_count) {
    json_ = std::find(args.begin(), args.end(), "--json") != args.end();
    Status s = flags.Parse(args, positional_count);
    usage_error_ = !s.ok();
    return s;
  }
  // `r` as it is, remembering kInvalidArgument as a usage error: for the steps that check
  // flag values and open what they name, before any data is read or written.
  template <typename R>
  R Checked(R r) {
    if (StatusOf(r).code() == StatusCode::kInvalidArgument) usage_error_ = true;
    return r;
  }
  bool usage_error() const { return usage_error_; }

  // With --json, a failure is also printed on stdout as {"error":{"code":..,"message":..}}.
  bool json() const { return json_; }

 private:
  static Status StatusOf(const Status& s) { return s; }
  template <typename T>
  static Status StatusOf(const Result<T>& r) {
    return r.status();
  }

  bool usage_error_ = false;
  bool json_ = false;
};

Status BackupCommand(const std::vector<std::string>& args, CommandOutput& out);
Status RestoreCommand(const std::vector<std::string>& args, CommandOutput& out);
Status CheckpointsCommand(const std::vector<std::string>& args, CommandOutput& out);
Status PinCommand(const std::vector<std::string>& args, CommandOutput& out);
Status UnpinCommand(const std::vector<std::string>& args, CommandOutput& out);
Status VerifyCommand(const std::vector<std::string>& args, CommandOutput& out);
Status ShowCommand(const std::vector<std::string>& args, CommandOutput& out);
Status GcCommand(const std::vector<std::string>& args, CommandOutput& out);

// What gc (or verify --orphans) found, as a JSON object.
std::string GcReportJson(const GcReport& report);

}  // namespace blobstate::cli

#endif  // BLOBSTATE_CLI_COMMANDS_H_
