#pragma once
// INFO in front of a Redis Cluster: every shard's master answers for its own keys, so the
// client, which sees one Redis, gets the first shard's INFO text with its `# Keyspace` section
// summed over every shard's: `db0:keys=` is then the cluster's key count, as DBSIZE is.
// Thread safety: a pure function.
#include <span>
#include <string>
#include <string_view>

namespace seawall::proxy {

// `texts[0]` with its Keyspace section's `dbN:` lines replaced by the sums over `texts` (keys,
// expires and any other count added; avg_ttl averaged over the keys with an expiry). A text
// without a Keyspace section (INFO of other sections) comes back as it is.
std::string sum_keyspaces(std::span<const std::string_view> texts);

}  // namespace seawall::proxy
