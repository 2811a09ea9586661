/// UTF-8 validation (RFC 3629: no overlongs, no surrogates, at most
/// U+10FFFF), shared by the WebSocket reader (text frames, close reasons)
/// and the serializers (V2 binary topics and events).
#pragma once

#include <string_view>

namespace fenix::transport {

/// True when `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s);

}  // namespace fenix::transport
