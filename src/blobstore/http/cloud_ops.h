// CloudOps: the synchronous operations of a cloud backend (S3, Azure), with the contracts
// of BlobStore's. The blob store logic is here, the same for every backend; a backend
// supplies its protocol: how one key is uploaded, downloaded, deleted, tagged and listed.
//
// Names under the backend's prefix:
//   blobs/<id>       the bytes of blob <id>
//   objects/<name>   named object <name> (checkpoints)
//
// TTL: a blob put with a TTL carries the tags blobstate_ttl=pending (for a lifecycle rule
// that expires such blobs) and blobstate_expires=<ms since the epoch> (for gc; blobs put
// before the rename carry blobstate-expires, still read). The tags go
// with the upload itself, so that a blob is never visible without them. Some servers
// ignore tags on upload: the first put with a TTL reads its tags back, and if they are
// missing, later puts tag each blob with a second request and delete the blob if that
// fails. RemoveTtl replaces the tags with none.
//
// A get whose connection drops midway resumes from the last byte received, with a Range
// request (blobs never change), up to kMaxGetResumes times. ListBlobs lists one page of
// blobs/ (with their tags where the listing includes them): for gc and verify only, never
// on the commit or restore path.
//
// Errors: kNotFound for a missing blob or object (naming it), kGone for a delete of one,
// kInvalidArgument for an invalid id or name, otherwise the backend's (CloudStatus).
#ifndef BLOBSTATE_BLOBSTORE_HTTP_CLOUD_OPS_H_
#define BLOBSTATE_BLOBSTORE_HTTP_CLOUD_OPS_H_

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "blobstate/blob_store.h"
#include "blobstore/http/cloud_io.h"
#include "blobstore/http/http_client.h"

namespace blobstate {

inline constexpr int kMaxGetResumes = 3;

class CloudOps {
 public:
  // `prefix` is "" or ends with '/'. `fencing`: whether PutObject sends its condition.
  CloudOps(std::string prefix, bool fencing) : prefix_(std::move(prefix)), fencing_(fencing) {}
  virtual ~CloudOps() = default;

  Result<std::string> Put(const SourceFactory& factory, const BlobMetadata& metadata);
  Status Get(const std::string& id, const SinkFactory& factory);
  // A Range request; kOutOfRange if the blob ends before offset + length (a 416, or a
  // shorter reply).
  Status GetRange(const std::string& id, uint64_t offset, uint64_t length,
                  const SinkFactory& factory);
  Status Delete(const std::string& id);
  Status RemoveTtl(const std::string& id);
  Result<std::optional<std::chrono::system_clock::time_point>> ExpiryOf(const std::string& id);
  Result<BlobPage> ListBlobs(const std::string& prefix, const std::string& token);
  Status DeleteExpired(const std::string& id, std::chrono::system_clock::time_point now);
  // A condition goes as If-None-Match: * or If-Match: <ETag>; a 412, or a 409 (a
  // concurrent conditional write won), is kAborted. Returns the new ETag.
  Result<std::string> PutObject(const std::string& name, const std::string& data,
                                const ObjectCondition& condition);
  Result<VersionedObject> GetObject(const std::string& name);
  Status DeleteObject(const std::string& name);
  Result<std::vector<std::string>> ListObjects(const std::string& prefix);
  virtual std::string Describe() const = 0;
  bool FencingOff() const { return !fencing_; }

 protected:
  // Stores the bytes of `source` at `key`, with `tags` where the service takes them on
  // upload. On failure nothing may be left at `key` but what a lost reply stored.
  virtual Status Upload(const std::string& key, BlobSource& source, const CloudTags& tags) = 0;
  // One PUT of the small `data` at `key`, with `headers` added; the reply as it came.
  virtual Result<HttpResponse> PutSmall(const std::string& key, const std::string& data,
                                        HttpHeaders headers) = 0;
  // A GET of `key` from byte `offset` to `end` (exclusive; nullopt: to its end; the whole
  // of it for 0 and nullopt) into `sink`, with the Range header RangeHeader gives. The
  // reply's status is the caller's to check.
  virtual Result<HttpResponse> Download(const std::string& key, uint64_t offset,
                                        std::optional<uint64_t> end, BlobSink& sink) = 0;
  // Deletes `key`: kGone (naming `what`) if nothing is there.
  virtual Status DeleteKey(const std::string& key, const std::string& what) = 0;
  // Replaces the tags of `key`; kNotFound if nothing is there. `what` names the change.
  virtual Status SetTags(const std::string& key, const CloudTags& tags,
                         const std::string& what) = 0;
  // The tags of `key`; kNotFound if nothing is there.
  virtual Result<CloudTags> GetTags(const std::string& key) = 0;
  // A key as a listing shows it: `tags` only if the listing includes them (Azure).
  struct KeyInfo {
    std::string key;
    uint64_t size = 0;
    std::chrono::system_clock::time_point modified;
    std::optional<CloudTags> tags;
  };
  struct KeyPage {
    std::vector<KeyInfo> keys;
    std::string next;  // the service's continuation token; empty after the last page
  };
  // One page of the keys that start with `prefix`: the first for an empty `token`.
  virtual Result<KeyPage> ListPage(const std::string& prefix, const std::string& token) = 0;
  // Deletes `key` if its expiry tag (`expires_tag`, or the legacy one) holds milliseconds
  // before `now_ms`; kAborted if not, kGone if there is no such key. This one reads the
  // tags, then deletes; a backend whose service checks tags in the delete itself overrides
  // it.
  virtual Status DeleteKeyIfExpired(const std::string& key, const std::string& expires_tag,
                                    int64_t now_ms, const std::string& what);

 private:
  enum class Tagging { kUnknown, kOnPut, kSeparate };

  std::string BlobKey(const std::string& id) const { return prefix_ + "blobs/" + id; }
  // Get and GetRange: bytes from `start`, `length` of them or (nullopt) to the end, resumed
  // after a dropped connection.
  Status Read(const std::string& id, uint64_t start, std::optional<uint64_t> length,
              const SinkFactory& factory);
  std::string ObjectKey(const std::string& name) const { return prefix_ + "objects/" + name; }
  // Makes sure the blob just put at `key` carries `tags` (see above).
  Status EnsureTagged(const std::string& key, const CloudTags& tags);
  // The valid names below `base` + `prefix`, without `base`, sorted.
  Result<std::vector<std::string>> NamesUnder(const std::string& base, const std::string& prefix);

  const std::string prefix_;
  const bool fencing_;
  std::atomic<Tagging> tagging_{Tagging::kUnknown};
};

}  // namespace blobstate

#endif  // BLOBSTATE_BLOBSTORE_HTTP_CLOUD_OPS_H_
