#include "blobstore/http/cloud_ops.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>

#include "blobstore/blob_ids.h"
#include "blobstore/open_blob_store.h"

namespace blobstate {
namespace {

using std::chrono::system_clock;

// Underscores, not dashes: Azure's tag conditions (x-ms-if-tags) name tags by identifier.
constexpr char kTtlTag[] = "blobstate_ttl";
constexpr char kExpiresTag[] = "blobstate_expires";
// The expiry tag of blobs put before the rename; still read as a TTL.
constexpr char kLegacyExpiresTag[] = "blobstate-expires";
// Longer TTLs would overflow the clock; no blob needs to wait that long.
constexpr std::chrono::seconds kMaxTtl(100ll * 365 * 24 * 3600);

std::optional<int64_t> ExpiryMs(const CloudTags& tags) {
  for (const auto& [k, v] : tags) {
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    const bool expiry = k == kExpiresTag || k == kLegacyExpiresTag;
    if (expiry && ec == std::errc() && end == v.data() + v.size()) return ms;
  }
  return std::nullopt;
}

// Collects an object's bytes into *out, up to kMaxObjectSize: no put stores more, and a
// foreign or hostile object is not read whole into memory.
class ObjectSink final : public BlobSink {
 public:
  ObjectSink(std::string* out, std::string what) : out_(out), what_(std::move(what)) {}
  Status Write(const char* data, size_t n) override {
    if (n > kMaxObjectSize - out_->size()) {
      return DataLossError(what_ + ": over " + std::to_string(kMaxObjectSize) +
                           " bytes, more than any object holds");
    }
    out_->append(data, n);
    return Status::Ok();
  }
  Status Finish() override { return Status::Ok(); }

 private:
  std::string* out_;
  std::string what_;
};

Status CheckName(const std::string& name, const char* what) {
  if (IsValidBlobId(name)) return Status::Ok();
  return InvalidArgumentError(std::string("invalid ") + what + " '" + name.substr(0, 600) + "'");
}

}  // namespace

Result<std::string> CloudOps::Put(const SourceFactory& factory, const BlobMetadata& metadata) {
  if (metadata.ttl.count() < 0 || metadata.ttl > kMaxTtl) {
    return InvalidArgumentError("TTL of " + std::to_string(metadata.ttl.count()) +
                                " s is out of range, for a put to " + Describe());
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BlobSource> source, factory());
  if (source == nullptr) return InternalError("the source factory returned no source");
  const auto now = system_clock::now();
  const std::string id = NewBlobId(metadata, now);
  const std::string key = BlobKey(id);
  CloudTags tags;
  if (metadata.ttl.count() > 0) {
    auto expiry = std::chrono::duration_cast<std::chrono::milliseconds>(
        (now + metadata.ttl).time_since_epoch());
    tags = {{kTtlTag, "pending"}, {kExpiresTag, std::to_string(expiry.count())}};
  }
  Status s = Upload(key, *source, tags);
  if (s.ok() && !tags.empty()) s = EnsureTagged(key, tags);
  if (!s.ok()) {
    DeleteKey(key, "blob " + id).IgnoreError();  // whatever a lost reply may have stored
    return s;
  }
  return id;
}

Status CloudOps::EnsureTagged(const std::string& key, const CloudTags& tags) {
  Tagging mode = tagging_.load();
  if (mode == Tagging::kOnPut) return Status::Ok();
  if (mode == Tagging::kUnknown) {
    ASSIGN_OR_RETURN(CloudTags got, GetTags(key));
    if (ExpiryMs(got)) {
      tagging_ = Tagging::kOnPut;
      return Status::Ok();
    }
    tagging_ = Tagging::kSeparate;
  }
  return SetTags(key, tags, "tagging of " + key);
}

Status CloudOps::Get(const std::string& id, const SinkFactory& factory) {
  return Read(id, 0, std::nullopt, factory);
}

Status CloudOps::GetRange(const std::string& id, uint64_t offset, uint64_t length,
                          const SinkFactory& factory) {
  RETURN_IF_ERROR(CheckRange(id, offset, length));
  return Read(id, offset, length, factory);
}

Status CloudOps::Read(const std::string& id, uint64_t start, std::optional<uint64_t> length,
                      const SinkFactory& factory) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  ResumableSink sink(factory);
  const std::string what = "get of " +
                           (length ? RangeDescription(id, start, *length) : "blob " + id) +
                           " from " + Describe();
  const std::optional<uint64_t> end =
      length ? std::optional<uint64_t>(start + *length) : std::nullopt;
  for (int resumes = 0;; ++resumes) {
    const uint64_t offset = start + sink.bytes();
    Result<HttpResponse> r = Download(BlobKey(id), offset, end, sink);
    if (!r.ok()) {
      // A dropped connection after some bytes: continue from there. (The sink's own
      // errors, a full disk say, are not the connection's: no resume.)
      const StatusCode code = r.status().code();
      const bool transport =
          code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded;
      if (transport && start + sink.bytes() > offset && resumes < kMaxGetResumes) continue;
      return r.status();
    }
    if (IsMissingKey(*r)) return NotFoundError("blob " + id + " not found in " + Describe());
    if (r->status == 416) {
      return OutOfRangeError(what + ": the blob ends before byte " + std::to_string(offset));
    }
    RETURN_IF_ERROR(CloudStatus(*r, what));
    if ((offset > 0 || end) &&
        (r->status != 206 ||
         !HeaderOf(*r, "content-range").starts_with("bytes " + std::to_string(offset) + "-"))) {
      return UnavailableError(what + ": the server did not answer with the range from byte " +
                              std::to_string(offset));
    }
    if (end && start + sink.bytes() != *end) {
      return OutOfRangeError(what + ": the blob ends at byte " +
                             std::to_string(start + sink.bytes()));
    }
    return sink.FinishBlob();
  }
}

Status CloudOps::Delete(const std::string& id) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  return DeleteKey(BlobKey(id), "blob " + id);
}

Status CloudOps::RemoveTtl(const std::string& id) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  Status s = SetTags(BlobKey(id), {}, "removal of the TTL of blob " + id);
  if (s.code() == StatusCode::kNotFound) {
    return NotFoundError("blob " + id + " not found in " + Describe());
  }
  return s;
}

Result<std::optional<system_clock::time_point>> CloudOps::ExpiryOf(const std::string& id) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  Result<CloudTags> tags = GetTags(BlobKey(id));
  if (tags.status().code() == StatusCode::kNotFound) {
    return NotFoundError("blob " + id + " not found in " + Describe());
  }
  if (!tags.ok()) return tags.status();
  std::optional<int64_t> ms = ExpiryMs(*tags);
  if (!ms) return std::nullopt;
  return system_clock::time_point(std::chrono::milliseconds(*ms));
}

Result<BlobPage> CloudOps::ListBlobs(const std::string& prefix, const std::string& token) {
  const std::string base = BlobKey("");
  ASSIGN_OR_RETURN(KeyPage keys, ListPage(base + prefix, token));
  BlobPage page{.next = std::move(keys.next)};
  for (KeyInfo& k : keys.keys) {
    if (!k.key.starts_with(base)) continue;
    std::string id = k.key.substr(base.size());
    if (!IsValidBlobId(id)) continue;  // not ours
    BlobInfo info{.id = std::move(id), .size = k.size, .modified = k.modified};
    if (k.tags) {
      info.ttl_listed = true;
      if (std::optional<int64_t> ms = ExpiryMs(*k.tags)) {
        info.expires = system_clock::time_point(std::chrono::milliseconds(*ms));
      }
    }
    page.blobs.push_back(std::move(info));
  }
  std::sort(page.blobs.begin(), page.blobs.end(),
            [](const BlobInfo& a, const BlobInfo& b) { return a.id < b.id; });
  return page;
}

Status CloudOps::DeleteExpired(const std::string& id, system_clock::time_point now) {
  RETURN_IF_ERROR(CheckName(id, "blob id"));
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return DeleteKeyIfExpired(BlobKey(id), kExpiresTag, now_ms, "blob " + id);
}

Status CloudOps::DeleteKeyIfExpired(const std::string& key, const std::string& expires_tag,
                                    int64_t now_ms, const std::string& what) {
  // No conditional delete on tags: read them, then delete (a RemoveTtl in between loses).
  Result<CloudTags> tags = GetTags(key);
  if (tags.status().code() == StatusCode::kNotFound) {
    return GoneError(what + " is already gone from " + Describe());
  }
  if (!tags.ok()) return tags.status();
  std::optional<int64_t> expiry = ExpiryMs(*tags);
  if (!expiry || *expiry >= now_ms) {
    return AbortedError(what + " in " + Describe() + " has no TTL that expired; not deleted");
  }
  return DeleteKey(key, what);
}

Result<std::string> CloudOps::PutObject(const std::string& name, const std::string& data,
                                        const ObjectCondition& condition) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  if (data.size() > kMaxObjectSize) {
    return InvalidArgumentError("object " + name + " is " + std::to_string(data.size()) +
                                " bytes, more than the limit of " + std::to_string(kMaxObjectSize));
  }
  HttpHeaders headers;
  if (fencing_ && condition.kind == ObjectCondition::Kind::kIfAbsent) {
    headers.emplace_back("If-None-Match", "*");
  } else if (fencing_ && condition.kind == ObjectCondition::Kind::kIfVersion) {
    headers.emplace_back("If-Match", condition.version);
  }
  const std::string what = "put of object " + name + " to " + Describe();
  ASSIGN_OR_RETURN(HttpResponse r, PutSmall(ObjectKey(name), data, std::move(headers)));
  // A version asked of an object that is gone is a condition that does not hold (S3
  // answers If-Match on a missing key with 404).
  const bool gone = condition.kind == ObjectCondition::Kind::kIfVersion && IsMissingKey(r);
  if (condition.kind != ObjectCondition::Kind::kAlways &&
      (r.status == 412 || r.status == 409 || gone)) {
    return AbortedError(what + ": its condition did not hold (HTTP " + std::to_string(r.status) +
                        ")");
  }
  RETURN_IF_ERROR(CloudStatus(r, what));
  std::string etag = HeaderOf(r, "etag");
  if (etag.empty()) return UnavailableError(what + ": no ETag in the reply");
  return etag;
}

Result<VersionedObject> CloudOps::GetObject(const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  VersionedObject object;
  const std::string what = "get of object " + name + " from " + Describe();
  ObjectSink sink(&object.data, what);
  ASSIGN_OR_RETURN(HttpResponse r, Download(ObjectKey(name), 0, std::nullopt, sink));
  if (IsMissingKey(r)) return NotFoundError("object " + name + " not found in " + Describe());
  RETURN_IF_ERROR(CloudStatus(r, what));
  object.version = HeaderOf(r, "etag");
  if (object.version.empty()) return UnavailableError(what + ": no ETag");
  return object;
}

Status CloudOps::DeleteObject(const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, "object name"));
  return DeleteKey(ObjectKey(name), "object " + name);
}

Result<std::vector<std::string>> CloudOps::ListObjects(const std::string& prefix) {
  return NamesUnder(ObjectKey(""), prefix);
}

Result<std::vector<std::string>> CloudOps::NamesUnder(const std::string& base,
                                                      const std::string& prefix) {
  std::vector<std::string> names;
  std::string token;
  do {
    ASSIGN_OR_RETURN(KeyPage page, ListPage(base + prefix, token));
    for (const KeyInfo& k : page.keys) {
      if (!k.key.starts_with(base)) continue;
      std::string name = k.key.substr(base.size());
      if (IsValidBlobId(name)) names.push_back(std::move(name));  // else not ours
    }
    token = std::move(page.next);
  } while (!token.empty());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace blobstate
