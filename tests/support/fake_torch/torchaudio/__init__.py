"""Fake torchaudio for torchup's tests: fails to load its extension against another torch,
like the real one does (an undefined-symbol OSError)."""

import os

import torch

from ._fake_build import BUILD
from .version import __version__  # noqa: F401

if torch.__version__.split("+")[0] != BUILD["torch_version"].split("+")[0]:
    _lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "libtorchaudio.so")
    raise OSError("%s: undefined symbol: _ZN3c1017RegisterOperatorsD1Ev" % _lib)
