"""torch.backends.cudnn: a CUDA build ships cuDNN, usable without a GPU for version queries."""

import os as _os

from ... import _C, _machine

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return bool(getattr(_C, "_has_cudnn", False))


def _triple(v):
    v = int(v)
    if v >= 10000:
        return (v // 10000, (v % 10000) // 100, v % 100)
    return (v // 1000, (v % 1000) // 100, v % 100)


def _init():
    """Real torch compares the cuDNN it was compiled against with the one it loaded (the
    machine's `cudnn_runtime`, when another copy shadows the wheel's) and raises the same
    text torch/backends/cudnn/__init__.py raises."""
    runtime = _machine.machine().cudnn_runtime
    if runtime is None:
        return
    compile_version, runtime_version = _triple(_C._cudnn_version()), _triple(runtime)
    if runtime_version[0] != compile_version[0]:
        ok = False
    else:
        ok = runtime_version[1] >= compile_version[1]
    if ok or _os.environ.get("PYTORCH_SKIP_CUDNN_COMPATIBILITY_CHECK", "0") == "1":
        return
    base = (
        "cuDNN version incompatibility: "
        "PyTorch was compiled  against %s "
        "but found runtime version %s. "
        "PyTorch already comes bundled with cuDNN. "
        "One option to resolving this error is to ensure PyTorch "
        "can find the bundled cuDNN. " % (compile_version, runtime_version)
    )
    if "LD_LIBRARY_PATH" in _os.environ:
        if any(s in _os.environ.get("LD_LIBRARY_PATH", "") for s in ["cuda", "cudnn"]):
            raise RuntimeError(
                base + "Looks like your LD_LIBRARY_PATH contains incompatible version of cudnn. "
                "Please either remove it from the path or install cudnn %s" % (compile_version,)
            )
        raise RuntimeError(base + "one possibility is that there is a conflicting cuDNN in LD_LIBRARY_PATH.")
    raise RuntimeError(base)


def version():
    """cuDNN's version as an int (9.1.0 -> 90100); None for a CPU build."""
    if not is_available():
        return None
    _init()
    return _C._cudnn_version()


def is_acceptable(tensor):
    return is_available() and tensor.is_cuda
