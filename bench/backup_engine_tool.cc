// RocksDB's own BackupEngine doing what the rocksdb benchmark asks of blobstate, for a
// side-by-side comparison in the same run:
//   backup_engine_tool backup DB_DIR BACKUP_DIR THREADS   (incremental, keeps the latest)
//   backup_engine_tool restore BACKUP_DIR DB_DIR THREADS
#include <rocksdb/db.h>
#include <rocksdb/utilities/backup_engine.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

int Fail(const std::string& what, const rocksdb::Status& s) {
  std::fprintf(stderr, "backup_engine_tool: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

std::unique_ptr<rocksdb::BackupEngine> OpenEngine(const std::string& dir, int threads) {
  rocksdb::BackupEngineOptions options(dir);
  options.max_background_operations = threads;
  options.sync = true;  // durable, as blobstate's file:// store and cp -r + sync
  rocksdb::BackupEngine* engine = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(rocksdb::Env::Default(), options, &engine);
  if (!s.ok()) {
    Fail("open backup engine " + dir, s);
    return nullptr;
  }
  return std::unique_ptr<rocksdb::BackupEngine>(engine);
}

int Backup(const std::string& db_dir, const std::string& backup_dir, int threads) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::Options(), db_dir, &raw);
  if (!s.ok()) return Fail("open " + db_dir, s);
  std::unique_ptr<rocksdb::DB> db(raw);
  auto engine = OpenEngine(backup_dir, threads);
  if (!engine) return 1;
  rocksdb::CreateBackupOptions create;
  create.flush_before_backup = true;
  if (auto io = engine->CreateNewBackup(create, db.get()); !io.ok()) return Fail("backup", io);
  if (auto io = engine->PurgeOldBackups(1); !io.ok()) return Fail("purge", io);
  return 0;
}

int Restore(const std::string& backup_dir, const std::string& db_dir, int threads) {
  auto engine = OpenEngine(backup_dir, threads);
  if (!engine) return 1;
  rocksdb::IOStatus s = engine->RestoreDBFromLatestBackup(db_dir, db_dir);
  return s.ok() ? 0 : Fail("restore", s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: backup_engine_tool backup|restore FROM TO THREADS\n");
    return 2;
  }
  const std::string command = argv[1];
  const int threads = std::atoi(argv[4]);
  if (command == "backup") return Backup(argv[2], argv[3], threads);
  if (command == "restore") return Restore(argv[2], argv[3], threads);
  std::fprintf(stderr, "backup_engine_tool: unknown command %s\n", command.c_str());
  return 2;
}
