"""Numbers as floresta's model JSON writes them."""
import math


def json_number(x):
    """A float64 at full precision; infinities and NaN (which JSON lacks) as strings."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x
