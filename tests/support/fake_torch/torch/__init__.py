"""A pure-Python stand-in for PyTorch, built into wheels by torchup's test kit.

It answers the API a GPU smoke test uses. What it does on "CUDA" follows from the simulated
machine in the TORCHUP_FAKE_GPU environment variable (see torch/_machine.py and torchup's
docs/testing.md) compared with the build baked into this wheel (torch/version.py,
torch/_fake_build.py): a CPU build has no CUDA, a driver older than the build's CUDA major
makes CUDA unavailable, a GPU whose architecture the build lacks gets "no kernel image".
"""

import os as _os
import sys as _sys

from . import _machine

_m = _machine.machine()

if _m.import_delay_ms:
    # Real torch takes seconds to import (8 s for 2.15 on a slow laptop); a huge value
    # simulates a hang for timeout handling.
    import time as _time

    _time.sleep(_m.import_delay_ms / 1000.0)
    del _time
_m.maybe_crash("import")

if _m.import_error is not None:
    # What torch/__init__.py's _load_dll_libraries() raises on Windows when a DLL or one of
    # its dependencies (usually the VC++ runtime) cannot be loaded.
    _dll = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "lib", _m.import_error_dll)
    if _os.sep != "\\":
        _dll = "C:" + _dll.replace("/", "\\")
    if _m.vcredist_missing:
        print(
            """Microsoft Visual C++ Redistributable is not installed, this may lead to the DLL load failure.
                 It can be downloaded at https://aka.ms/vs/16/release/vc_redist.x64.exe"""
        )
    if _m.import_error == "winerror126":
        _text = "[WinError 126] The specified module could not be found."
    else:
        _text = "[WinError 1114] A dynamic link library (DLL) initialization routine failed."
    raise OSError(_text + ' Error loading "%s" or one of its dependencies.' % _dll)

from . import version  # noqa: E402
from .version import __version__  # noqa: E402,F401


class OutOfMemoryError(RuntimeError):
    pass


class AcceleratorError(RuntimeError):
    pass


from . import _C  # noqa: E402
from ._tensor import (  # noqa: E402,F401
    Tensor,
    Size,
    Generator,
    device,
    dtype,
    float32,
    float16,
    bfloat16,
    float64,
    int64,
    int32,
    int8,
    uint8,
    bool_ as bool,
    randn,
    rand,
    ones,
    zeros,
    full,
    empty,
    randn_like,
    rand_like,
    ones_like,
    zeros_like,
    empty_like,
    arange,
    tensor,
    matmul,
    mm,
    allclose,
    manual_seed,
)
from ._tensor import float32 as float  # noqa: E402,F401
from ._tensor import float16 as half  # noqa: E402,F401
from ._tensor import float64 as double  # noqa: E402,F401
from ._tensor import int64 as long  # noqa: E402,F401
from ._tensor import int32 as int  # noqa: E402,F401
from . import cuda  # noqa: E402,F401
from . import amp  # noqa: E402,F401
from . import backends  # noqa: E402,F401
from . import nn  # noqa: E402,F401
from .amp import autocast  # noqa: E402,F401

FloatTensor = Tensor


def _warn_numpy_absent():
    """Real torch warns at import when numpy cannot be imported (normal in a fresh venv:
    torch does not require numpy). Same text, same condition."""
    try:
        import numpy  # noqa: F401
    except ImportError as e:
        import warnings as _warnings

        if _build.BUILD.get("os") == "windows":
            where = "C:\\actions-runner\\_work\\pytorch\\pytorch\\pytorch\\torch\\csrc\\utils\\tensor_numpy.cpp:84"
        elif _build.version_tuple() < (2, 6):
            where = "../torch/csrc/utils/tensor_numpy.cpp:84"
        else:
            where = "/pytorch/torch/csrc/utils/tensor_numpy.cpp:84"
        _warnings.warn("Failed to initialize NumPy: %s (Triggered internally at %s.)" % (e, where), UserWarning)


from . import _build  # noqa: E402

_warn_numpy_absent()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def get_default_dtype():
    return float32


def abs(t):
    return t.abs()


def sum(t, *args, **kwargs):
    return t.sum(*args, **kwargs)


def mean(t, *args, **kwargs):
    return t.mean(*args, **kwargs)


def max(t, *args, **kwargs):
    return t.max(*args, **kwargs)


def min(t, *args, **kwargs):
    return t.min(*args, **kwargs)


def isfinite(t):
    return t.isfinite()


def isnan(t):
    return t.isnan()


def relu(t):
    return nn.functional.relu(t)


class _NoGrad:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return wrapper


def no_grad():
    return _NoGrad()


def inference_mode(mode=True):
    return _NoGrad()


def set_grad_enabled(mode):
    return _NoGrad()


def _fake_build_info():
    """torchup test kit: the baked build (not part of real torch)."""
    from ._fake_build import BUILD

    return dict(BUILD)


del _sys
