// Presents a GGUF file's metadata and tensor shapes to plugins as the C table strata_metadata.
#pragma once

#include "engine/gguf/gguf_file.h"
#include "strata/plugin.h"

namespace strata {

class MetadataBridge {
 public:
  // `file` must outlive the bridge.
  explicit MetadataBridge(const gguf::GgufFile& file);
  MetadataBridge(const MetadataBridge&) = delete;
  MetadataBridge& operator=(const MetadataBridge&) = delete;

  const strata_metadata* get() const { return &table_; }
  const gguf::GgufFile& file() const { return file_; }

 private:
  const gguf::GgufFile& file_;
  strata_metadata table_;
};

}  // namespace strata
