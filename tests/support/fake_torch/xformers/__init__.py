"""Fake xformers for torchup's tests: warns like the real one when the installed torch is not
the one it was built for."""

import sys

import torch

from ._fake_build import BUILD
from .version import __version__  # noqa: F401


def _cuda_int(cuda):
    if cuda is None:
        return None
    major, minor = cuda.split(".")
    return int(major) * 100 + int(minor)


_built_torch = BUILD["torch_version"]
_py = "%d.%d.%d" % sys.version_info[:3]
if torch.__version__ != _built_torch:
    sys.stderr.write(
        "WARNING[XFORMERS]: xFormers can't load C++/CUDA extensions. xFormers was built for:\n"
        "    PyTorch %s with CUDA %s (you have %s)\n"
        "    Python  %s (you have %s)\n"
        "  Please reinstall xformers (see https://github.com/facebookresearch/xformers#installing-xformers)\n"
        "  Memory-efficient attention, SwiGLU, sparse and more won't be available.\n"
        "  Set XFORMERS_MORE_DETAILS=1 for more details\n"
        % (_built_torch, _cuda_int(BUILD.get("cuda")), torch.__version__, BUILD.get("python", _py), _py)
    )
    _has_cpp_library = False
else:
    _has_cpp_library = True
