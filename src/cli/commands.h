// The blobstate commands. Each parses its own flags (`args` excludes the program and
// command names), does its work, and prints its result through `out`.
#ifndef BLOBSTATE_CLI_COMMANDS_H_
#define BLOBSTATE_CLI_COMMANDS_H_

#include <cstdio>
#include <string>
#include <vector>

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
  // flags.Parse, remembering a failure as a usage error (exit status 2).
  Status Parse(Flags& flags, const std::vector<std::string>& args, size_t positional_count) {
    Status s = flags.Parse(args, positional_count);
    usage_error_ = !s.ok();
    return s;
  }
  bool usage_error() const { return usage_error_; }

 private:
  bool usage_error_ = false;
};

Status BackupCommand(const std::vector<std::string>& args, CommandOutput& out);
Status RestoreCommand(const std::vector<std::string>& args, CommandOutput& out);
Status CheckpointsCommand(const std::vector<std::string>& args, CommandOutput& out);
Status VerifyCommand(const std::vector<std::string>& args, CommandOutput& out);
Status ShowCommand(const std::vector<std::string>& args, CommandOutput& out);
Status GcCommand(const std::vector<std::string>& args, CommandOutput& out);

}  // namespace blobstate::cli

#endif  // BLOBSTATE_CLI_COMMANDS_H_
