// The x86-64-v2 kernel (SSSE3, SSE4.1, SSE4.2, POPCNT: every x86-64 CPU since 2008-2011 that
// lacks AVX2): the portable kernel's code (PortableIsa) compiled with this unit's flags only
// (CMakeLists.txt; see kernel.hpp), so that its single rows take the byte entries on 128-bit
// registers (bitvector_bytes.hpp: pshufb looks the row's bins up).
#define FLORESTA_ISA sse4
#define FLORESTA_ISA_LEVEL 0
#include "engine/score.hpp"

namespace floresta::detail {

const Kernel& sse4_kernel() {
  static const Kernel kernel = sse4::make_kernel("sse4");
  return kernel;
}

}  // namespace floresta::detail
