"""torch.cuda.amp: the deprecated spelling, with torch's deprecation warning."""

import warnings

from ..amp import autocast as _autocast
from .._tensor import float16


class autocast(_autocast):
    def __init__(self, enabled=True, dtype=float16, cache_enabled=True):
        warnings.warn(
            "`torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', args...)` "
            "instead.",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
