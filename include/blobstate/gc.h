// Garbage collection of a blob store: mark, then sweep.
//
// Mark: for every task of the jobs covered, read its latest checkpoint, the checkpoints it
// retains, those pinned (history.h) and the one its writer opened at (writer_base: a roll
// back, kept until the writer's next commit), and every snapshot index they name; the marked set
// is those indexes and every blob they name. Sweep: list the blobs a page at a time and
// delete, as the listing goes, only blobs that nothing marked names and that are either
//   - expired: their TTL passed (an upload no commit persisted; a writer that was fenced),
//     deleted with BlobStore::DeleteExpired, so a TTL removed meanwhile keeps the blob; or
//   - orphans: no TTL, and older than the grace period (what a crash between a commit's
//     TTL removal and its persist leaves, or a writer from before history leaked).
// History objects that no latest checkpoint retains and no pin names are deleted once
// older than the grace period too.
//
// Safety beside running commits: a commit's uploads keep their TTL until at most half the
// TTL has passed (the commit fails otherwise) and are persisted right after; so a blob a
// commit in flight will reference is either marked (it was in the latest checkpoint when gc
// read it), unexpired, or younger than the grace period, which must exceed half the
// longest blob TTL writers use (the defaults: 7-day TTL, 7-day grace). A task whose marks
// cannot be read (a missing or corrupt index) has none of its blobs swept.
//
// Memory: the marked set and one page of the listing. Requests: one page listing per
// kMaxListPage blobs, one tag read per unmarked blob on services whose listings omit tags
// (S3), one delete per deletion, all in parallel up to options.concurrency.
#ifndef BLOBSTATE_GC_H_
#define BLOBSTATE_GC_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstate/future.h"
#include "blobstate/status.h"

// The public API: exported from a shared libblobstate, which hides everything else.
#pragma GCC visibility push(default)

namespace blobstate {

struct GcOptions {
  // The job whose blobs are collected (a valid job name, CheckJobOrTaskName); empty:
  // every job in the store. Blob ids carry job
  // names cut to 64 bytes, so the jobs whose names share the first 64 bytes of a longer
  // one share its blobs' prefix: they are marked with it (their history objects are not
  // collected).
  std::string job;
  // How old a blob without TTL that nothing references must be to be deleted. Must exceed
  // half the longest blob TTL writers use, and be at most kMaxPolicyPeriod (history.h).
  // Default: 7 days (the default TTL).
  std::chrono::seconds grace{7 * 24 * 3600};
  // Count what would be deleted; change nothing at all.
  bool dry_run = false;
  // Requests in flight at most. Default: 32.
  size_t concurrency = 32;
  // Also count the blobs of kept checkpoints that still have a TTL (verify's TTL debt); on
  // S3 that reads the tags of every marked blob.
  bool ttl_debt = false;
  // The time TTLs are measured against; default: now. Tests move it.
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// Why a blob is garbage.
enum class Garbage { kExpired, kOrphan };

// Counts of one job (or of all).
struct GcCounts {
  uint64_t blobs = 0, bytes = 0;  // listed
  uint64_t marked = 0;            // listed and marked
  uint64_t expired = 0, expired_bytes = 0;
  uint64_t orphans = 0, orphan_bytes = 0;
  uint64_t young = 0;     // unmarked without TTL, within the grace period: kept
  uint64_t pending = 0;   // unmarked with a TTL not yet expired: kept
  uint64_t ttl_debt = 0;  // marked, with a TTL (options.ttl_debt)
  GcCounts& operator+=(const GcCounts& other);
};

struct GcReport {
  uint64_t tasks = 0, checkpoints = 0, snapshots = 0;  // marked
  GcCounts total;
  std::map<std::string, GcCounts> jobs;  // by job (the first component of a blob id)
  uint64_t deleted = 0;                  // blobs deleted (0 in a dry run)
  uint64_t history_deleted = 0;          // history objects deleted (or, dry, to delete)
  // Requests by kind: "list-objects", "get-object", "get" (indexes), "list-blobs",
  // "expiry-of", "delete", "delete-expired", "delete-object".
  std::map<std::string, uint64_t> requests;
  // Tasks not swept: "<job>/<task>: <why>".
  std::vector<std::string> skipped;
  // Requests of the sweep that failed (after their retries), and the first one's error:
  // the sweep goes on past them; what they would have deleted is left for the next run.
  uint64_t failed = 0;
  std::string first_failure;
};

// Called for each garbage blob found (deleted unless a dry run), on any thread, one call
// at a time.
using GarbageCallback = std::function<void(const BlobInfo& blob, Garbage why)>;

// Marks, then sweeps (see above). Blocks until done; requests run on the blob store's
// executor, decoding on `executor`. Errors: kInvalidArgument, before any request, for an
// invalid job name or grace period; those of marking (a listing or read that failed after
// retries) and of the sweep's listing. A failed delete or tag read is counted
// in the report (failed), not an error; a blob deleted meanwhile (kGone) or whose TTL was
// removed meanwhile (kAborted) is neither.
Result<GcReport> CollectGarbage(BlobStore& store, Executor& executor, const GcOptions& options,
                                const GarbageCallback& on_garbage = {});

}  // namespace blobstate

#pragma GCC visibility pop

#endif  // BLOBSTATE_GC_H_
