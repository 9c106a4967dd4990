#pragma once
// RESP2 replies as a RESP3 client expects them. seawall's own answers (L1 copies filled from
// RESP2 connections, degraded defaults, misses, journal answers) are RESP2; a RESP3 session gets
// them with every null bulk or null array, at any depth, written as RESP3's null ("_"). Other
// types are the same bytes in both protocols (arrays stay arrays: a map-typed command answered
// from a RESP2 copy is the one place the types differ, and seawall only serves such copies to
// RESP3 clients when no RESP3 copy exists). Pure functions.
#include <cstdint>
#include <string>
#include <string_view>

namespace seawall::resp {

// The protocol a client speaks with seawall (HELLO 2 / HELLO 3).
// The values are HELLO's protocol versions.
enum class Protocol : std::uint8_t { Resp2 = 2, Resp3 = 3 };

// Appends `reply` (one complete RESP2 reply) to `out` in RESP3. False, with `out` unchanged,
// when `reply` is not one complete well-formed reply.
bool append_as_resp3(std::string& out, std::string_view reply);

}  // namespace seawall::resp
