"""torch.backends: cudnn, cuda.matmul flags, mps."""

from . import cuda, cudnn, mps  # noqa: F401
