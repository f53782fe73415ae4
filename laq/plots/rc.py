"""`plots.rc` checked with matplotlib's own validators (imports matplotlib, not pyplot): config
validation runs it at dry-run time, so a bad value stops the run before any compute, not in the last
plot job."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Mapping

from laq.io import LaqError

# Sizes that must be positive (matplotlib validates them only as floats: figure.dpi -5 passes it).
_POSITIVE = re.compile(r"(^|\.)(dpi|size|figsize|linewidth|markersize|width|fontsize|labelsize|titlesize)$")


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _numbers(v)]
    return []


def check_rc(rc: Mapping[str, Any] | None) -> dict[str, Any]:
    """The validated `rc` (matplotlib's normalised values); LaqError naming the first bad key or value."""
    import matplotlib

    checked: dict[str, Any] = {}
    for key, value in dict(rc or {}).items():
        if not isinstance(key, str) or key not in matplotlib.rcParams:
            close = difflib.get_close_matches(str(key), list(matplotlib.rcParams.keys()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise LaqError(f"plots.rc key {key!r} is not a matplotlib rcParam{hint}; fix or remove it in the config.")
        try:
            v = matplotlib.rcParams.validate[key](value)
        except (ValueError, TypeError) as e:
            raise LaqError(f"plots.rc value {value!r} for {key!r} is invalid ({str(e).splitlines()[0]}); fix it in the config.") from None
        nums = _numbers(v)
        if not all(math.isfinite(x) for x in nums) or (_POSITIVE.search(key) and not all(x > 0 for x in nums)):
            raise LaqError(f"plots.rc value {value!r} for {key!r} is invalid (it must be a finite positive size); fix it in the config.")
        checked[key] = v
    return checked
