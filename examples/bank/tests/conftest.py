"""Makes `import bank` work from any directory (pytest examples/bank/tests)."""
import pathlib
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))
