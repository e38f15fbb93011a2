// floresta/version.hpp — the library version.
#pragma once

#define FLORESTA_VERSION_MAJOR 0
#define FLORESTA_VERSION_MINOR 1
#define FLORESTA_VERSION_PATCH 0

namespace floresta {
inline constexpr const char* kVersion = "0.1.0";
}
