#include "seawall/command/client_self.hpp"

#include "seawall/util/ascii.hpp"

namespace seawall::command {

ClientSelf client_self(const CommandInfo* client, std::span<const std::string_view> args) {
  if (const CommandInfo* sub = resolve(client, args)) {
    return rules(*sub).client;
  }
  return util::iequals(args[1], "setinfo") ? ClientSelf::SetInfo : ClientSelf::None;
}

}  // namespace seawall::command
