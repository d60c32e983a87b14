"""torch.nn: Module, Linear, Conv2d, ReLU, Sequential (no autograd)."""

import math

from . import functional  # noqa: F401
from .. import _tensor
from .._tensor import Tensor


def Parameter(data, requires_grad=True):
    return data.requires_grad_(requires_grad)


class Module:
    def __init__(self):
        self._params = {}
        self._modules = {}
        self.training = True

    def __setattr__(self, name, value):
        if isinstance(value, Tensor) and name != "_params":
            self.__dict__.setdefault("_params", {})[name] = value
        elif isinstance(value, Module):
            self.__dict__.setdefault("_modules", {})[name] = value
        object.__setattr__(self, name, value)

    def parameters(self):
        for p in self._params.values():
            yield p
        for m in self._modules.values():
            for p in m.parameters():
                yield p

    def _apply(self, fn):
        for name, p in list(self._params.items()):
            setattr(self, name, fn(p))
        for m in self._modules.values():
            m._apply(fn)
        return self

    def to(self, *args, **kwargs):
        return self._apply(lambda t: t.to(*args, **kwargs))

    def cuda(self, device=None):
        return self._apply(lambda t: t.cuda(device))

    def cpu(self):
        return self._apply(lambda t: t.cpu())

    def half(self):
        return self._apply(lambda t: t.half())

    def float(self):
        return self._apply(lambda t: t.float())

    def train(self, mode=True):
        self.training = mode
        for m in self._modules.values():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = _tensor.randn(out_features, in_features, device=device, dtype=dtype) * bound
        self.bias = _tensor.randn(out_features, device=device, dtype=dtype) * bound if bias else None

    def forward(self, x):
        return functional.linear(x, self.weight, self.bias)


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, device=None, dtype=None):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        bound = 1.0 / math.sqrt(in_channels // groups * kh * kw)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = _tensor.randn(out_channels, in_channels // groups, kh, kw, device=device, dtype=dtype) * bound
        self.bias = _tensor.randn(out_channels, device=device, dtype=dtype) * bound if bias else None

    def forward(self, x):
        return functional.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ReLU(Module):
    def forward(self, x):
        return functional.relu(x)


class Sequential(Module):
    def __init__(self, *mods):
        super().__init__()
        for i, m in enumerate(mods):
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x
