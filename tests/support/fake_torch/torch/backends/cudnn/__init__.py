"""torch.backends.cudnn: a CUDA build ships cuDNN, usable without a GPU for version queries."""

from ... import _C

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return bool(getattr(_C, "_has_cudnn", False))


def version():
    """cuDNN's version as an int (9.1.0 -> 90100); None for a CPU build."""
    if not is_available():
        return None
    return _C._cudnn_version()


def is_acceptable(tensor):
    return is_available() and tensor.is_cuda
