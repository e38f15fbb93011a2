"""The instruction-set rule, checked on a built program: AVX-512 instructions only in the
AVX-512 kernel unit's code, AVX/AVX2 (VEX) instructions only there and in the AVX2 unit's.

    python3 tests/cpp/isa_rule.py build/tests/cpp/floresta_tests

Why: the kernel units are compiled with -mavx2 / -mavx512*. An inline function or template
they emit out of line under a name other units share (std::, Eigen::, floresta::detail::
outside their namespace) may be the copy the linker keeps for the whole program, and a CPU
without the instruction set then crashes in portable code. The kernels avoid it by keeping
everything in their own namespace (floresta::detail::avx2, floresta::detail::avx512); this
disassembles the linked program (objdump) and fails, naming the functions, if any other
function holds such an instruction. Allowed besides the two namespaces: the units' entry
points (avx2_kernel(), avx512_kernel(), called only after the CPU check in kernel.cpp) and
ubjson.cpp's decode_loop_avx2 (internal linkage, target("avx2"), dispatched on the CPU).

An instruction is AVX-512 when it is EVEX-encoded (prefix byte 0x62 after any legacy
prefixes), touches a zmm register or an opmask register; it is AVX when VEX-encoded (0xc4 /
0xc5) or one of the BMI/LZCNT/POPCNT instructions the kernel units' flags allow.
"""
import re
import subprocess
import sys

AVX512_OK = ("floresta::detail::avx512::", "floresta::detail::avx512_kernel()")
AVX_OK = AVX512_OK + ("floresta::detail::avx2::", "floresta::detail::avx2_kernel()",
                      "floresta::detail::(anonymous namespace)::decode_loop_avx2<")
LEGACY_PREFIXES = {"66", "67", "f2", "f3", "2e", "3e", "26", "36", "64", "65", "f0"}
BMI = {"shlx", "sarx", "shrx", "rorx", "andn", "bextr", "blsi", "blsmsk", "blsr", "bzhi", "pdep", "pext", "mulx",
       "lzcnt", "popcnt"}
FUNCTION = re.compile(r"^[0-9a-f]+ <(.*)>:$")
INSTRUCTION = re.compile(r"^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t(\S+)\s*(.*)$")


def classify(raw, mnemonic, operands):
    """'avx512', 'avx' or None for one disassembled instruction."""
    opcode = [b for b in raw.split()]
    while opcode and opcode[0] in LEGACY_PREFIXES:
        opcode = opcode[1:]
    first = opcode[0] if opcode else ""
    if first == "62" or "%zmm" in operands or re.search(r"%k[0-7]", operands) or re.match(r"k[a-z]+[bwdq]$", mnemonic):
        return "avx512"
    if first in ("c4", "c5") or mnemonic in BMI:
        return "avx"
    return None


def violations(binary):
    listing = subprocess.run(["objdump", "-d", "-C", "-w", binary], capture_output=True, text=True, check=True).stdout
    found = {}
    function = None
    for line in listing.splitlines():
        header = FUNCTION.match(line)
        if header:
            function = header.group(1)
            continue
        instruction = INSTRUCTION.match(line)
        if not instruction or function is None:
            continue
        kind = classify(*instruction.groups())
        if kind is None:
            continue
        allowed = AVX512_OK if kind == "avx512" else AVX_OK
        if not any(name in function for name in allowed):
            found.setdefault((function, kind), f"{instruction.group(2)} {instruction.group(3)}".strip())
    return found


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    found = violations(argv[1])
    for (function, kind), example in sorted(found.items()):
        print(f"{kind} instruction outside its kernel unit: {function}: {example}")
    if found:
        print(f"{len(found)} function(s) break the instruction-set rule (see tests/cpp/isa_rule.py)")
        return 1
    print(f"{argv[1]}: no AVX or AVX-512 instruction outside the kernel units")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
