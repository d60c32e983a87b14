"""The build baked into this wheel by torchup's test kit (torch/_fake_build.py is written by
tests/support/wheelbuild.py): version, CUDA level, compiled architectures, cuDNN."""

from ._fake_build import BUILD


def version_tuple():
    out = []
    for part in BUILD["version"].split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def cuda_tuple():
    """(12, 4) for a cu124 build; None for CPU."""
    cuda = BUILD.get("cuda")
    if cuda is None:
        return None
    major, _, minor = cuda.partition(".")
    return (int(major), int(minor or 0))
