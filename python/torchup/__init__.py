"""torchup: a terminal wizard that moves PyTorch from the CPU build to a verified CUDA build.

The wheel installs the ``torchup`` binary into the environment's scripts folder (``bin/`` or
``Scripts\\``); this package only finds it, so ``python -m torchup`` works where that folder
is not on PATH (common on Windows).
"""

import os
import sys
import sysconfig

__all__ = ["find_torchup_bin"]


def _user_scheme():
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    if os.name == "nt":
        return "nt_user"
    if sys.platform == "darwin" and getattr(sys, "_framework", None):
        return "osx_framework_user"
    return "posix_user"


def _candidates(exe):
    """Where pip and uv put the binary: the environment's scripts folder, the user scheme's
    (``pip install --user``), and ``bin`` beside the package root (``pip install --target``)."""
    yield os.path.join(sysconfig.get_path("scripts"), exe)
    try:
        yield os.path.join(sysconfig.get_path("scripts", scheme=_user_scheme()), exe)
    except KeyError:
        pass
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    yield os.path.join(pkg_root, "bin", exe)


def find_torchup_bin():
    """The path of the installed torchup binary; FileNotFoundError naming where it looked."""
    exe = "torchup" + (sysconfig.get_config_var("EXE") or "")
    looked = []
    for path in _candidates(exe):
        if os.path.isfile(path):
            return path
        looked.append(path)
    raise FileNotFoundError(
        "the torchup binary is not installed next to this Python (looked in: "
        + ", ".join(looked)
        + "); reinstall it with: python -m pip install --force-reinstall torchup"
    )
