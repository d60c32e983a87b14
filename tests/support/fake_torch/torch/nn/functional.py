"""torch.nn.functional: the layers a smoke test touches (conv2d runs "on cuDNN")."""

import math

from .. import _tensor
from .._tensor import Tensor, _h, _numel, _phi


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if input.device != weight.device:
        raise RuntimeError(
            "Input type (%s) and weight type (%s) should be the same or input should be a MKLDNN tensor and "
            "weight is a dense tensor"
            % (input.type(), weight.type())
        )
    if input.device.type == "cuda":
        from ..backends import cudnn as _cudnn

        if _cudnn.enabled and _cudnn.is_available():
            _cudnn._init()  # real conv checks the loaded cuDNN first (cudnn.is_acceptable)
    x, w = _tensor._autocast_inputs(input._plain(), weight._plain())
    if x.dtype is not w.dtype:
        raise RuntimeError("Input type (%s) and weight type (%s) should be the same" % (x.type(), w.type()))
    batched = x.dim() == 4
    if x.dim() not in (3, 4):
        raise RuntimeError("Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: %s"
                           % list(x.shape))
    n, c, h, wd = x.shape if batched else (1,) + tuple(x.shape)
    o, cg, kh, kw = w.shape
    if c != cg * groups:
        raise RuntimeError(
            "Given groups=%d, weight of size %s, expected input%s to have %d channels, but got %d channels instead"
            % (groups, list(w.shape), list(x.shape), cg * groups, c)
        )
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    if padding == "same":
        ph, pw = (dh * (kh - 1)) // 2, (dw * (kw - 1)) // 2
    elif padding == "valid":
        ph, pw = 0, 0
    else:
        ph, pw = _pair(padding)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ho <= 0 or wo <= 0:
        raise RuntimeError("Calculated output size: (%d x %d). Output size is too small" % (ho, wo))
    k = cg * kh * kw
    shape = (n, o, ho, wo) if batched else (o, ho, wo)
    flops = 2.0 * n * o * ho * wo * k
    out = _tensor._contract(x, w, k, shape, "conv", flops)
    if bias is not None:
        out = out + bias.view(o, 1, 1)
    return out


def linear(input, weight, bias=None):
    out = input @ weight.t()
    if bias is not None:
        out = out + bias
    return out


def relu(input, inplace=False):
    if input._vals is not None:
        _tensor._work(input.device, input.numel(), 2 * input.nbytes, input.dtype)
        return input._concrete([max(v, 0.0) for v in input._vals])
    p = input._plain()
    m, s = p._mean, p._rms()
    if s == 0:
        return p._like(mean=max(m, 0.0), sym=None, coef=0.0, err={})
    # moments of max(X, 0) for X ~ N(m, s)
    a = m / s
    pdf = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    mean = m * _phi(a) + s * pdf
    second = (m * m + s * s) * _phi(a) + m * s * pdf
    # errors pass through where the input is positive
    keep = math.sqrt(_phi(a))
    out = Tensor(p.shape, p.dtype, p.device, mean=mean, sym=_h("relu", p._vident()),
                 coef=math.sqrt(max(0.0, second - mean * mean)),
                 err={_h("relu", k): c * keep for k, c in p._err.items()})
    _tensor._work(p.device, _numel(p.shape), 2 * p.nbytes, p.dtype)
    return out
