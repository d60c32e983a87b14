"""Fake torchvision for torchup's tests: enough to reproduce the real import-time checks
against the installed torch (operator registration, CUDA major match)."""

import torch

from ._fake_build import BUILD
from .version import __version__  # noqa: F401


def _base(v):
    return v.split("+")[0]


if _base(torch.__version__) != _base(BUILD["torch_version"]):
    # torchvision's C++ ops are compiled against one torch; with another torch their
    # registration fails while torchvision/_meta_registrations.py imports.
    raise RuntimeError("operator torchvision::nms does not exist")


def _cuda_version():
    """What torch.ops.torchvision._cuda_version() returns: 12040 for 12.4, -1 for CPU."""
    cuda = BUILD.get("cuda")
    if cuda is None:
        return -1
    major, minor = cuda.split(".")
    return int(major) * 1000 + int(minor) * 10


def _check_cuda_version():
    from torch.version import cuda as torch_version_cuda

    _version = _cuda_version()
    if _version != -1 and torch_version_cuda is not None:
        tv_version = str(_version)
        if int(tv_version) < 10000:
            tv_major = int(tv_version[0])
            tv_minor = int(tv_version[2])
        else:
            tv_major = int(tv_version[0:2])
            tv_minor = int(tv_version[3])
        t_version = torch_version_cuda.split(".")
        t_major = int(t_version[0])
        t_minor = int(t_version[1])
        if t_major != tv_major:
            raise RuntimeError(
                "Detected that PyTorch and torchvision were compiled with different CUDA major versions. "
                f"PyTorch has CUDA Version={t_major}.{t_minor} and torchvision has "
                f"CUDA Version={tv_major}.{tv_minor}. "
                "Please reinstall the torchvision that matches your PyTorch install."
            )
    return _version


_check_cuda_version()

from . import ops  # noqa: E402,F401
