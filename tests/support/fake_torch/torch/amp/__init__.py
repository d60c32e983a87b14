"""torch.amp.autocast: inside the context, CUDA matmuls and convolutions run in float16
(the inputs are rounded, the result dtype is float16), as with real autocast."""

import functools
import warnings

import torch
from .._tensor import _Autocast, float16, bfloat16


class autocast:
    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError("Expected `device_type` of type `str`, got: `%s`" % type(device_type))
        if device_type not in ("cuda", "cpu"):
            raise RuntimeError("fake torch: autocast for device_type %r is not simulated" % device_type)
        self.device = device_type
        self.fast_dtype = dtype if dtype is not None else (float16 if device_type == "cuda" else bfloat16)
        self._enabled = enabled
        if enabled and device_type == "cuda" and not torch.cuda.is_available():
            warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling")
            self._enabled = False
        self._prev = None

    def __enter__(self):
        self._prev = (_Autocast.enabled[self.device], _Autocast.dtype[self.device])
        _Autocast.enabled[self.device] = self._enabled
        _Autocast.dtype[self.device] = self.fast_dtype
        return self

    def __exit__(self, *exc):
        _Autocast.enabled[self.device], _Autocast.dtype[self.device] = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return wrapper


def is_autocast_available(device_type):
    return device_type in ("cuda", "cpu")
