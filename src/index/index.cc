#include "blobstate/index.h"

namespace blobstate {
namespace {

void CollectIds(const DirIndex& d, std::vector<std::string>* out) {
  for (const FileIndex& f : d.files_present) {
    for (const FileBlob& b : f.blobs) out->push_back(b.blob_id);
  }
  for (const DirIndex& sub : d.subdirs_present) CollectIds(sub, out);
}

}  // namespace

TreeTotals TotalsOf(const std::vector<FileIndex>& files) {
  TreeTotals t;
  for (const FileIndex& f : files) {
    ++t.files;
    t.bytes += f.metadata.size;
  }
  return t;
}

TreeTotals TotalsOf(const DirIndex& dir) {
  TreeTotals t = TotalsOf(dir.files_present);
  for (const DirIndex& sub : dir.subdirs_present) {
    TreeTotals s = TotalsOf(sub);
    t.files += s.files;
    t.bytes += s.bytes;
  }
  return t;
}

std::vector<std::string> BlobIdsOf(const DirIndex& index) {
  std::vector<std::string> out;
  CollectIds(index, &out);
  return out;
}

}  // namespace blobstate
