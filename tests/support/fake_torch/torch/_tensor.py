"""Lazy tensors: shape, dtype, device and a statistical description of the values.

A tensor never stores its elements. It stores what a smoke test can observe about them:

    element = mean + coef * X[sym] + sum(c * E[id] for id, c in err.items())

X[sym] is a unit-RMS random field named by `sym` (randn draws, products of them, ...), and
each E[id] is a unit-RMS *rounding error* realisation. The same computation on the same
inputs gets the same ids, so `(a.cuda() @ b.cuda()).cpu() - a @ b` cancels everything except
the rounding errors, which are device-specific (different summation order) and have the size
real float32/float16 arithmetic would give. Reductions (`sum`, `max`, `item`) turn the
description into deterministic numbers of the right magnitude. Cost is O(1) per operation
whatever the shape, plus simulated compute time (see _machine.Clock).
"""

import hashlib
import math
import struct

from . import _C
from ._machine import machine, clock

# ---------------------------------------------------------------- helpers


def _h(*parts):
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little")


def _unit(h):
    return (h >> 11) / float(1 << 53)


def _gauss(h):
    u1 = _unit(_h("g1", h)) or 1e-300
    u2 = _unit(_h("g2", h))
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _qmax(n):
    """About the expected maximum of n standard normal draws."""
    if n <= 1:
        return 0.0
    if n < 8:
        return (0.0, 0.0, 0.56, 0.85, 1.03, 1.16, 1.27, 1.35)[int(n)]
    l = math.log(n)
    a = math.sqrt(2.0 * l)
    return a - (math.log(l) + math.log(4.0 * math.pi)) / (2.0 * a)


def _phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _round_to(dt, v):
    """`v` stored in dtype `dt` (round to nearest even, like a real cast)."""
    if dt is bool_:
        return 1.0 if v != 0 else 0.0
    if not dt.is_floating_point:
        return float(int(v))
    if dt is float64:
        return float(v)
    if dt is float16:
        try:
            return struct.unpack("<e", struct.pack("<e", v))[0]
        except (OverflowError, struct.error):
            return math.copysign(math.inf, v)
    f = struct.unpack("<f", struct.pack("<f", v))[0] if abs(v) < 3.4e38 else math.copysign(math.inf, v)
    if dt is bfloat16:
        bits = struct.unpack("<I", struct.pack("<f", f))[0]
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return struct.unpack("<f", struct.pack("<I", bits))[0]
    return f


# Tensors this small (from torch.tensor, arange, and what is computed from them) carry their
# actual values, so sums, maxima and items are exact.
_MAX_CONCRETE = 4096


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# ---------------------------------------------------------------- dtypes and devices


class dtype:
    __slots__ = ("name", "itemsize", "eps", "is_floating_point", "mant_bits", "c10_name")

    def __init__(self, name, itemsize, eps, is_floating_point, mant_bits, c10_name):
        self.name = name
        self.itemsize = itemsize
        self.eps = eps
        self.is_floating_point = is_floating_point
        self.mant_bits = mant_bits
        self.c10_name = c10_name

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


float32 = dtype("float32", 4, 2.0**-23, True, 24, "float")
float16 = dtype("float16", 2, 2.0**-10, True, 11, "c10::Half")
bfloat16 = dtype("bfloat16", 2, 2.0**-7, True, 8, "c10::BFloat16")
float64 = dtype("float64", 8, 2.0**-52, True, 53, "double")
int64 = dtype("int64", 8, 0.0, False, 63, "long int")
int32 = dtype("int32", 4, 0.0, False, 31, "int")
int8 = dtype("int8", 1, 0.0, False, 7, "signed char")
uint8 = dtype("uint8", 1, 0.0, False, 8, "unsigned char")
bool_ = dtype("bool", 1, 0.0, False, 1, "bool")

_DTYPES = {d.name: d for d in (float32, float16, bfloat16, float64, int64, int32, int8, uint8, bool_)}


def _dtype_by_name(name):
    return _DTYPES[name]


def _default_dtype():
    return float32


class device:
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int):
            type, index = "cuda", type
        text = str(type)
        if ":" in text:
            text, _, idx = text.partition(":")
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError("Invalid device string: '%s'" % type)
        if text not in ("cpu", "cuda", "meta", "mps", "xpu"):
            raise RuntimeError(
                "Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, "
                "xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type at start of device "
                "string: %s" % type
            )
        self.type = text
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        if self.index is None:
            return "device(type='%s')" % self.type
        return "device(type='%s', index=%d)" % (self.type, self.index)

    def __str__(self):
        return self.type if self.index is None else "%s:%d" % (self.type, self.index)


_CPU = device("cpu")


def _resolve_device(d):
    """A concrete device; `cuda` without an index becomes the current device. CUDA devices
    initialise CUDA here, as real torch does on first use."""
    if d is None:
        return _CPU
    if not isinstance(d, device):
        d = device(d)
    if d.type == "cpu":
        return _CPU
    if d.type != "cuda":
        raise RuntimeError("fake torch: device type %r is not simulated (only cpu and cuda)" % d.type)
    from . import cuda

    cuda._lazy_init()
    idx = _C.state.current if d.index is None else d.index
    if idx < 0 or idx >= len(_C.state.devices()):
        raise _C._cuda_error("invalid device ordinal")
    return device("cuda", idx)


def _gpu(dev):
    return _C.state.devices()[dev.index]


class Size(tuple):
    def __repr__(self):
        return "torch.Size([%s])" % ", ".join(str(s) for s in self)

    def numel(self):
        return _numel(self)


def _parse_size(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        args = tuple(args[0])
    for a in args:
        if not isinstance(a, int) or a < 0:
            raise TypeError("size must be non-negative ints, got %r" % (args,))
    return tuple(int(a) for a in args)


def _broadcast(a, b):
    out = []
    for i in range(max(len(a), len(b))):
        x = a[len(a) - 1 - i] if i < len(a) else 1
        y = b[len(b) - 1 - i] if i < len(b) else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                "The size of tensor a (%d) must match the size of tensor b (%d) at non-singleton dimension %d"
                % (x, y, max(len(a), len(b)) - 1 - i)
            )
        out.append(max(x, y))
    return tuple(reversed(out))


# ---------------------------------------------------------------- memory and time

_allocated = {}
_peak = {}
_GPU_BANDWIDTH = 200e9
_CPU_BANDWIDTH = 20e9
_PCIE_BANDWIDTH = 12e9


def _fmt_size(n):
    if n < 1024:
        return "%d bytes" % n
    for unit, div in (("KiB", 1024.0), ("MiB", 1024.0**2), ("GiB", 1024.0**3)):
        if n < div * 1024 or unit == "GiB":
            return "%.2f %s" % (n / div, unit)


def _reserved(idx):
    a = _allocated.get(idx, 0)
    block = 2 * 1024 * 1024
    return (a + block - 1) // block * block


def _mem_info(idx):
    d = _C.state.devices()[idx]
    m = machine()
    total = d.memory_mib * 1024 * 1024
    other = (d.used_mib + m.context_mib) * 1024 * 1024
    free = max(0, total - other - _reserved(idx))
    return free, total


def _allocate(dev, nbytes):
    if dev.type != "cuda" or nbytes == 0:
        return
    idx = dev.index
    free, total = _mem_info(idx)
    block = 2 * 1024 * 1024
    need = (nbytes + block - 1) // block * block
    if need > free:
        from . import OutOfMemoryError

        m = machine()
        raise OutOfMemoryError(
            "CUDA out of memory. Tried to allocate %s. GPU %d has a total capacity of %s of which %s is free. "
            "Including non-PyTorch memory, this process has %s memory in use. Of the allocated memory %s is "
            "allocated by PyTorch, and %s is reserved by PyTorch but unallocated. If reserved but unallocated "
            "memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid "
            "fragmentation.  See documentation for Memory Management  "
            "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
            % (
                _fmt_size(nbytes),
                idx,
                _fmt_size(total),
                _fmt_size(free),
                _fmt_size(m.context_mib * 1024 * 1024 + _reserved(idx)),
                _fmt_size(_allocated.get(idx, 0)),
                _fmt_size(_reserved(idx) - _allocated.get(idx, 0)),
            )
        )
    _allocated[idx] = _allocated.get(idx, 0) + nbytes
    _peak[idx] = max(_peak.get(idx, 0), _allocated[idx])


def _release(dev, nbytes):
    if dev.type == "cuda" and nbytes:
        _allocated[dev.index] = max(0, _allocated.get(dev.index, 0) - nbytes)


def _fp16_rate(cc):
    if cc >= (7, 0):
        return 4.0  # tensor cores
    if cc in ((5, 3), (6, 0), (6, 2)):
        return 2.0
    return 1.0 / 64.0  # consumer Pascal/Maxwell run fp16 arithmetic at 1/64 rate


def _work(dev, flops, nbytes, dt, kernel=True):
    """Account for one operation: check the kernel image, then spend simulated time.
    kernel: True for torch's own kernels, "cublas" for matmuls (cuBLAS ships kernels for more
    architectures than torch's fat binary: on a GPU the build lacks, matmuls still run while
    torch's elementwise kernels fail, as with real torch), False for copies."""
    m = machine()
    if dev.type == "cuda":
        g = _gpu(dev)
        if kernel == "cublas":
            _C.check_cublas(g)
        elif kernel:
            _C.check_kernel(g)
        rate = g.gflops * 1e9 * (_fp16_rate(g.cc) if dt in (float16, bfloat16) else 1.0)
        seconds = (flops / rate + nbytes / _GPU_BANDWIDTH) * m.time_scale + 5e-6 + m.slow_ms / 1000.0
        clock.gpu_work(g.index, seconds)
    else:
        rate = m.cpu_gflops * 1e9 * (0.25 if dt in (float16, bfloat16) else 1.0)
        clock.cpu_work((flops / rate + nbytes / _CPU_BANDWIDTH) * m.time_scale)


def _sync(dev):
    if dev.type == "cuda":
        clock.synchronize(dev.index)


# ---------------------------------------------------------------- generators

_seeds = {"cpu": [67280421310721, 0], "cuda": [67280421310721, 0]}


def manual_seed(seed):
    seed = int(seed)
    for k in _seeds:
        _seeds[k] = [seed, 0]
    return Generator(seed)


class Generator:
    def __init__(self, seed=67280421310721, device="cpu"):
        self._seed = seed
        self.device = device

    def manual_seed(self, seed):
        self._seed = int(seed)
        return self

    def initial_seed(self):
        return self._seed


def _draw(kind, dev):
    s = _seeds[dev.type]
    s[1] += 1
    return _h(kind, dev.type, s[0], s[1])


# ---------------------------------------------------------------- autocast state


class _Autocast:
    enabled = {"cuda": False, "cpu": False}
    dtype = {"cuda": float16, "cpu": bfloat16}


def _autocast_dtype(dev):
    if _Autocast.enabled.get(dev.type):
        return _Autocast.dtype[dev.type]
    return None


# ---------------------------------------------------------------- the tensor


class Tensor:
    __slots__ = ("_shape", "_dtype", "_device", "_mean", "_sym", "_coef", "_err", "_abs", "_bool", "_nbytes",
                 "_vals", "requires_grad", "__weakref__")

    def __init__(self, shape, dt, dev, mean=0.0, sym=None, coef=0.0, err=None, absval=False, isbool=False,
                 vals=None):
        self._nbytes = 0
        self._vals = None
        if vals is not None:
            vals = tuple(float(v) for v in vals)
            n = len(vals)
            mean = sum(vals) / n if n else 0.0
            coef = math.sqrt(sum((v - mean) ** 2 for v in vals) / n) if n else 0.0
            sym = _h("data", vals) if coef else None
            err = None
            absval = False
            self._vals = vals
        self._shape = tuple(shape)
        self._dtype = dt
        self._device = dev
        self._mean = float(mean)
        self._sym = sym if coef != 0.0 else None
        self._coef = float(coef) if sym is not None else 0.0
        self._err = {k: v for k, v in (err or {}).items() if v != 0.0}
        if len(self._err) > 24:
            self._err = _compact(self._err)
        self._abs = absval
        self._bool = isbool
        self.requires_grad = False
        nbytes = _numel(self._shape) * dt.itemsize
        _allocate(dev, nbytes)
        self._nbytes = nbytes

    def __del__(self):
        try:
            _release(self._device, self._nbytes)
        except Exception:
            pass

    # -- description helpers
    def _ident(self):
        return _h(self._shape, self._dtype.name, self._mean, self._sym, self._coef,
                  tuple(sorted(self._err.items())), self._abs, self._bool)

    def _vident(self):
        """Identity of the exact values only (not their rounding errors or dtype): the same
        numbers on another device or in another precision share it."""
        return _h(self._shape, self._mean, self._sym, self._coef, self._abs, self._bool)

    def _rms(self):
        """RMS of the zero-mean part (random values plus errors)."""
        return math.sqrt(self._coef ** 2 + sum(c * c for c in self._err.values()))

    def _plain(self):
        """The same values without the pending abs() flag."""
        if not self._abs:
            return self
        m, s = self._mean, self._rms()
        if s == 0.0:
            return Tensor(self._shape, self._dtype, self._device, mean=abs(m))
        ea = s * math.sqrt(2.0 / math.pi) * math.exp(-m * m / (2 * s * s)) + m * (1.0 - 2.0 * _phi(-m / s))
        var = max(0.0, m * m + s * s - ea * ea)
        return Tensor(self._shape, self._dtype, self._device, mean=ea, sym=_h("abs", self._vident()),
                      coef=math.sqrt(var))

    def _like(self, **kw):
        args = dict(shape=self._shape, dt=self._dtype, dev=self._device, mean=self._mean, sym=self._sym,
                    coef=self._coef, err=dict(self._err), absval=self._abs, isbool=self._bool)
        if self._vals is not None and not any(k in kw for k in ("mean", "sym", "coef", "err", "absval")):
            args["vals"] = self._vals
        args.update(kw)
        return Tensor(**args)

    def _concrete(self, vals, dt=None, dev=None, shape=None, isbool=False):
        """A tensor with these exact values (garbage instead on a GPU with wrong_results)."""
        dev = dev or self._device
        if dev.type == "cuda" and machine().wrong_results:
            vals = [v + max(abs(v), 1.0) * _gauss(_h("garbage", i, v)) for i, v in enumerate(vals)]
        dt = dt or self._dtype
        return Tensor(shape if shape is not None else self._shape, dt, dev, isbool=isbool,
                      vals=[_round_to(dt, v) for v in vals])

    def _scalar_value(self):
        """The single element's value (numel must be 1)."""
        n = _numel(self._shape)
        if n != 1:
            raise RuntimeError("a Tensor with %d elements cannot be converted to Scalar" % n)
        _sync(self._device)
        v = self._mean
        if self._sym is not None:
            v += self._coef * _gauss(_h("elem", self._sym))
        for k, c in self._err.items():
            v += c * _gauss(_h("elem", k))
        if self._abs:
            v = abs(v)
        if self._vals is not None:
            v = self._vals[0]
        if self._bool:
            return bool(v >= 0.5)
        if not self._dtype.is_floating_point:
            return int(round(v))
        return v

    # -- properties
    @property
    def shape(self):
        return Size(self._shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._shape)
        return self._shape[dim]

    def dim(self):
        return len(self._shape)

    @property
    def ndim(self):
        return len(self._shape)

    def numel(self):
        return _numel(self._shape)

    def nelement(self):
        return _numel(self._shape)

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    def get_device(self):
        return self._device.index if self._device.type == "cuda" else -1

    def element_size(self):
        return self._dtype.itemsize

    @property
    def nbytes(self):
        return self._nbytes

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    # -- conversions
    def to(self, *args, **kwargs):
        dev = kwargs.get("device")
        dt = kwargs.get("dtype")
        for a in args:
            if isinstance(a, dtype):
                dt = a
            elif isinstance(a, Tensor):
                dev, dt = a.device, a.dtype
            elif isinstance(a, (str, device, int)):
                dev = a
        out = self
        if dev is not None:
            out = out._to_device(_resolve_device(dev))
        if dt is not None and dt is not out._dtype:
            out = out._cast(dt)
        return out

    def _to_device(self, dev):
        if dev == self._device:
            return self
        if self._device.type == "cuda":
            _sync(self._device)
        out = self._like(dev=dev)
        # A copy is a memcpy, not a kernel: it works even without a kernel image.
        clock.cpu_work(self._nbytes / _PCIE_BANDWIDTH * machine().time_scale)
        return out

    def _cast(self, dt):
        if self._vals is not None:
            _work(self._device, _numel(self._shape), self._nbytes * 2, dt)
            return self._concrete(self._vals, dt=dt, isbool=dt is bool_)
        src = self._plain()
        err = dict(src._err)
        if dt.is_floating_point and dt.mant_bits < src._dtype.mant_bits:
            mag = math.sqrt(src._mean ** 2 + src._coef ** 2)
            exact = (src._coef == 0.0 and not err and float(src._mean).is_integer()
                     and abs(src._mean) < 2.0 ** dt.mant_bits)
            if not exact and mag > 0.0:
                err[_h("cast", src._vident(), dt.name)] = 0.29 * dt.eps * mag
        _work(self._device, _numel(self._shape), self._nbytes * 2, dt)
        return src._like(dt=dt, err=err, absval=False)

    def cuda(self, device=None, non_blocking=False):
        from . import cuda

        cuda._lazy_init()
        return self.to("cuda" if device is None else device if not isinstance(device, int) else "cuda:%d" % device)

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(float32)

    def half(self):
        return self.to(float16)

    def double(self):
        return self.to(float64)

    def bfloat16(self):
        return self.to(bfloat16)

    def long(self):
        return self.to(int64)

    def int(self):
        return self.to(int32)

    def type(self, dt=None):
        if dt is None:
            prefix = "torch.cuda." if self.is_cuda else "torch."
            return prefix + {"float32": "FloatTensor", "float16": "HalfTensor", "float64": "DoubleTensor",
                             "int64": "LongTensor", "int32": "IntTensor", "bool": "BoolTensor"}.get(
                                 self._dtype.name, "Tensor")
        return self.to(dt)

    def contiguous(self, memory_format=None):
        return self

    def clone(self, memory_format=None):
        _work(self._device, 0, 2 * self._nbytes, self._dtype)
        return self._like()

    def detach(self):
        return self._like()

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    def numpy(self):
        raise RuntimeError("fake torch: .numpy() is not simulated (there is no numpy in the test venvs)")

    def item(self):
        return self._scalar_value()

    def tolist(self):
        if self._shape == ():
            return self._scalar_value()
        raise RuntimeError("fake torch: tolist() is only simulated for 0-d tensors")

    def __float__(self):
        return float(self._scalar_value())

    def __int__(self):
        return int(self._scalar_value())

    def __index__(self):
        return int(self._scalar_value())

    def __bool__(self):
        if _numel(self._shape) != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._scalar_value())

    def __format__(self, spec):
        if self._shape == () or _numel(self._shape) == 1:
            return format(self._scalar_value(), spec)
        return format(repr(self), spec)

    def __repr__(self):
        extra = ""
        if self._device.type == "cuda":
            extra += ", device='%s'" % self._device
        if self._dtype is not float32 and self._dtype.is_floating_point:
            extra += ", dtype=%r" % self._dtype
        if self._vals is not None and len(self._shape) == 1 and len(self._vals) <= 20:
            body = ", ".join(_fmt_elem(v, self) for v in self._vals)
            return "tensor([%s]%s)" % (body, extra)
        if self._vals is not None and len(self._shape) == 2 and len(self._vals) <= 64:
            r, c = self._shape
            rows = ["[%s]" % ", ".join(_fmt_elem(v, self) for v in self._vals[i * c:(i + 1) * c]) for i in range(r)]
            return "tensor([%s]%s)" % (",\n        ".join(rows), extra)
        if _numel(self._shape) == 1 and len(self._shape) <= 1:
            v = self._scalar_value()
            body = ("%.4f" % v) if isinstance(v, float) else str(v)
            if v is True or v is False:
                body = str(v)
            if self._shape == ():
                return "tensor(%s%s)" % (body, extra)
            return "tensor([%s]%s)" % (body, extra)
        return "tensor(<%s values not simulated>, size=%s%s)" % (
            "x".join(str(s) for s in self._shape), tuple(self._shape), extra)

    # -- shape ops (no data movement)
    def view(self, *shape):
        shape = _parse_size(tuple(s for s in shape if s != -1)) if -1 not in shape else self._infer(shape)
        if _numel(shape) != self.numel():
            raise RuntimeError("shape '%s' is invalid for input of size %d" % (list(shape), self.numel()))
        return self._like(shape=shape)

    reshape = view

    def _infer(self, shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        known = _numel([s for s in shape if s != -1])
        return tuple(self.numel() // max(known, 1) if s == -1 else s for s in shape)

    def flatten(self):
        return self._like(shape=(self.numel(),))

    def unsqueeze(self, dim):
        s = list(self._shape)
        s.insert(dim if dim >= 0 else len(s) + 1 + dim, 1)
        return self._like(shape=tuple(s))

    def t(self):
        if len(self._shape) > 2:
            raise RuntimeError("t() expects a tensor with <= 2 dimensions, but self is %dD" % len(self._shape))
        if self._vals is not None and len(self._shape) == 2:
            r, c = self._shape
            return Tensor((c, r), self._dtype, self._device, vals=[self._vals[i * c + j] for j in range(c)
                                                                   for i in range(r)])
        return self._like(shape=tuple(reversed(self._shape)), sym=_h("T", self._sym) if self._sym else None,
                          err={_h("T", k): c for k, c in self._err.items()})

    @property
    def T(self):
        return self.t()

    # -- arithmetic
    def _check_same_device(self, other, op):
        if isinstance(other, Tensor) and other._device != self._device and other._shape != ():
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, %s and %s!"
                % (self._device, other._device)
            )

    def _lin(self, ca, other, cb):
        """ca*self + cb*other, elementwise with broadcasting."""
        exact = _elementwise(self, other, lambda x, y: ca * x + cb * y)
        if exact is not None:
            return exact
        a = self._plain()
        if not isinstance(other, Tensor):
            out = a._like(mean=ca * a._mean + cb * float(other), coef=ca * a._coef,
                          err={k: ca * c for k, c in a._err.items()})
            _work(a._device, a.numel(), 2 * a._nbytes, a._dtype)
            return out
        self._check_same_device(other, "add")
        b = other._plain()
        shape = _broadcast(a._shape, b._shape)
        dt = a._dtype if a._dtype.mant_bits >= b._dtype.mant_bits else b._dtype
        mean = ca * a._mean + cb * b._mean
        if a._sym is not None and a._sym == b._sym:
            sym, coef = a._sym, ca * a._coef + cb * b._coef
            if abs(coef) < 1e-12 * (abs(a._coef) + abs(b._coef)):
                sym, coef = None, 0.0
        else:
            coef = math.hypot(ca * a._coef, cb * b._coef)
            sym = _h("lin", ca, a._sym, a._coef, cb, b._sym, b._coef) if coef else None
        err = {k: ca * c for k, c in a._err.items()}
        for k, c in b._err.items():
            err[k] = err.get(k, 0.0) + cb * c
            scale = abs(ca * a._err.get(k, 0.0)) + abs(cb * c)
            if abs(err[k]) <= 1e-12 * scale:
                del err[k]
        out = Tensor(shape, dt, a._device, mean=mean, sym=sym, coef=coef, err=err)
        _work(a._device, _numel(shape), 3 * out._nbytes, dt)
        return out

    def __add__(self, other):
        return self._lin(1.0, other, 1.0)

    __radd__ = __add__

    def __sub__(self, other):
        return self._lin(1.0, other, -1.0)

    def __rsub__(self, other):
        return self._lin(-1.0, other, 1.0)

    def __neg__(self):
        return self._lin(-1.0, 0.0, 0.0)

    def __mul__(self, other):
        exact = _elementwise(self, other, lambda x, y: x * y)
        if exact is not None:
            return exact
        if not isinstance(other, Tensor):
            return self._lin(float(other), 0.0, 0.0)
        self._check_same_device(other, "mul")
        a, b = self._plain(), other._plain()
        shape = _broadcast(a._shape, b._shape)
        ma, mb = a._mean, b._mean
        sa2, sb2 = a._coef ** 2 + ma * ma, b._coef ** 2 + mb * mb
        coef = math.sqrt(max(0.0, sa2 * sb2 - (ma * mb) ** 2))
        err = {}
        for k, c in a._err.items():
            err[_h("mulL", k, b._vident())] = c * math.sqrt(sb2)
        for k, c in b._err.items():
            err[_h("mulR", a._vident(), k)] = c * math.sqrt(sa2)
        dt = a._dtype if a._dtype.mant_bits >= b._dtype.mant_bits else b._dtype
        out = Tensor(shape, dt, a._device, mean=ma * mb, sym=_h("mul", a._vident(), b._vident()), coef=coef, err=err)
        _work(a._device, _numel(shape), 3 * out._nbytes, dt)
        return out

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, Tensor):
            if _numel(other._shape) == 1:
                return self * (1.0 / other._scalar_value())
            raise RuntimeError("fake torch: division by a non-scalar tensor is not simulated")
        return self._lin(1.0 / float(other), 0.0, 0.0)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def matmul(self, other):
        return matmul(self, other)

    def mm(self, other):
        return matmul(self, other)

    def abs(self):
        if self._vals is not None:
            _work(self._device, self.numel(), 2 * self._nbytes, self._dtype)
            return self._concrete([abs(v) for v in self._vals])
        if self._abs:
            return self
        _work(self._device, self.numel(), 2 * self._nbytes, self._dtype)
        return self._like(absval=True)

    __abs__ = abs

    def relu(self):
        from .nn.functional import relu

        return relu(self)

    # -- comparisons -> boolean tensors holding the fraction of true elements
    def _cmp(self, other, op):
        fn = {"lt": lambda x, y: x < y, "le": lambda x, y: x <= y, "gt": lambda x, y: x > y,
              "ge": lambda x, y: x >= y, "eq": lambda x, y: x == y, "ne": lambda x, y: x != y}[op]
        exact = _elementwise(self, other, lambda x, y: 1.0 if fn(x, y) else 0.0, out_dtype=bool_)
        if exact is not None:
            return exact
        if isinstance(other, Tensor):
            if _numel(other._shape) != 1:
                d = self - other
                return d._cmp(0.0, op)
            other = other._scalar_value()
        t = float(other)
        if _numel(self._shape) == 1:
            v = self._scalar_value()
            r = {"lt": v < t, "le": v <= t, "gt": v > t, "ge": v >= t, "eq": v == t, "ne": v != t}[op]
            return Tensor(self._shape, bool_, self._device, mean=1.0 if r else 0.0, isbool=True)
        m, s = self._mean, self._rms()
        if self._abs:
            below = (_phi((t - m) / s) - _phi((-t - m) / s)) if (s > 0 and t > 0) else (1.0 if abs(m) < t else 0.0)
        else:
            below = _phi((t - m) / s) if s > 0 else (1.0 if m < t else 0.0)
        frac = {"lt": below, "le": below, "gt": 1 - below, "ge": 1 - below,
                "eq": 0.0 if s > 0 else float(m == t), "ne": 1.0 if s > 0 else float(m != t)}[op]
        return Tensor(self._shape, bool_, self._device, mean=frac, isbool=True)

    def __lt__(self, o):
        return self._cmp(o, "lt")

    def __le__(self, o):
        return self._cmp(o, "le")

    def __gt__(self, o):
        return self._cmp(o, "gt")

    def __ge__(self, o):
        return self._cmp(o, "ge")

    def __eq__(self, o):
        return self._cmp(o, "eq")

    def __ne__(self, o):
        return self._cmp(o, "ne")

    __hash__ = object.__hash__

    def all(self):
        if self._vals is not None:
            return Tensor((), bool_, self._device, isbool=True, vals=[1.0 if all(self._vals) else 0.0])
        n = self.numel()
        p = self._mean if self._bool else 1.0
        return Tensor((), bool_, self._device, isbool=True, vals=[1.0 if n * (1.0 - p) < 0.5 else 0.0])

    def any(self):
        if self._vals is not None:
            return Tensor((), bool_, self._device, isbool=True, vals=[1.0 if any(self._vals) else 0.0])
        n = self.numel()
        p = self._mean if self._bool else 1.0
        return Tensor((), bool_, self._device, isbool=True, vals=[1.0 if n * p >= 0.5 else 0.0])

    # -- reductions
    def _reduce_work(self):
        _work(self._device, self.numel(), self._nbytes, self._dtype)

    def sum(self, dim=None, keepdim=False, dtype=None):
        self._reduce_work()
        if dim is not None:
            return self._sum_dim(dim, keepdim, mean=False)
        n = self.numel()
        if self._vals is not None:
            dt = dtype or (int64 if self._bool or not self._dtype.is_floating_point else self._dtype)
            return Tensor((), dt, self._device, vals=[math.fsum(self._vals)])
        if self._bool:
            return Tensor((), int64, self._device, vals=[round(self._mean * n)])
        if self._abs:
            p = self._plain()
            v = n * p._mean + math.sqrt(n) * p._coef * _gauss(_h("sum", p._sym))
        else:
            v = n * self._mean
            if self._sym is not None:
                v += math.sqrt(n) * self._coef * _gauss(_h("sum", self._sym))
            for k, c in self._err.items():
                v += math.sqrt(n) * c * _gauss(_h("sum", k))
        dt = dtype or self._dtype
        return Tensor((), dt, self._device, vals=[_round_to(dt, v)])

    def _sum_dim(self, dim, keepdim, mean):
        p = self._plain()
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = [d % len(p._shape) for d in dims]
        k = _numel([p._shape[d] for d in dims])
        shape = tuple(1 if i in dims else s for i, s in enumerate(p._shape)) if keepdim else tuple(
            s for i, s in enumerate(p._shape) if i not in dims)
        f = (1.0 / k) if mean else 1.0
        return Tensor(shape, p._dtype, p._device, mean=p._mean * k * f,
                      sym=_h("sumdim", p._sym, tuple(dims)) if p._sym else None,
                      coef=p._coef * math.sqrt(k) * f,
                      err={_h("sumdim", key, tuple(dims)): c * math.sqrt(k) * f for key, c in p._err.items()})

    def mean(self, dim=None, keepdim=False, dtype=None):
        if dim is not None:
            self._reduce_work()
            return self._sum_dim(dim, keepdim, mean=True)
        s = self.sum()
        n = self.numel()
        if self._vals is not None:
            if not self._dtype.is_floating_point and dtype is None:
                names = {"int64": "Long", "int32": "Int", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
                raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating "
                                   "point or complex dtype. Got: %s" % names.get(self._dtype.name, self._dtype.name))
            return Tensor((), dtype or self._dtype, self._device, vals=[s._vals[0] / n])
        if self._bool:
            return Tensor((), float32, self._device, vals=[self._mean])
        dt = dtype or self._dtype
        return Tensor((), dt, self._device, vals=[_round_to(dt, s._vals[0] / n)])

    def max(self, dim=None, keepdim=False):
        if dim is not None:
            raise RuntimeError("fake torch: max(dim=...) is not simulated; use max() over all elements")
        return self._extreme(+1.0)

    def min(self, dim=None, keepdim=False):
        if dim is not None:
            raise RuntimeError("fake torch: min(dim=...) is not simulated; use min() over all elements")
        return self._extreme(-1.0)

    def _extreme(self, sign):
        n = self.numel()
        if n == 0:
            raise RuntimeError(
                "max(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument.")
        self._reduce_work()
        if self._vals is not None:
            v = max(self._vals) if sign > 0 else min(self._vals)
            return Tensor((), self._dtype, self._device, isbool=self._bool, vals=[v])
        m, s = self._mean, self._rms()
        jitter = 1.0 + 0.02 * _gauss(_h("ext", self._ident(), sign))
        if self._abs:
            if sign > 0:
                v = max(abs(m) + s * _qmax(n) * jitter, s * _qmax(2 * n) * jitter)
            else:
                v = max(0.0, abs(m) - s * _qmax(n) * jitter) if s else abs(m)
        else:
            v = m + sign * s * _qmax(n) * jitter
        if self._bool:
            return Tensor((), bool_, self._device, isbool=True, vals=[1.0 if v >= 0.5 else 0.0])
        return Tensor((), self._dtype, self._device, vals=[_round_to(self._dtype, v)])

    def isfinite(self):
        # The simulated values are always finite: NaN/Inf are not modelled.
        return Tensor(self._shape, bool_, self._device, mean=1.0, isbool=True)

    def isnan(self):
        return Tensor(self._shape, bool_, self._device, mean=0.0, isbool=True)

    def norm(self):
        if self._vals is not None:
            return Tensor((), self._dtype, self._device, vals=[math.sqrt(math.fsum(v * v for v in self._vals))])
        n = self.numel()
        p = self._plain()
        self._reduce_work()
        return Tensor((), p._dtype, p._device, vals=[math.sqrt(n * (p._mean ** 2 + p._rms() ** 2))])


def _fmt_elem(v, t):
    if t._bool:
        return "True" if v else "False"
    if not t._dtype.is_floating_point:
        return str(int(v))
    return "%.4f" % v


def _elementwise(a, b, fn, out_dtype=None):
    """fn applied element by element when both operands carry exact values (or b is a
    number); None when the statistical model has to handle it."""
    if a._vals is None:
        return None
    if isinstance(b, Tensor) and b._vals is None and _numel(b._shape) == 1 and b._device == a._device:
        b = b._scalar_value()
    if isinstance(b, Tensor):
        if b._vals is None:
            return None
        if b._device != a._device and b._shape != ():
            return None  # let the statistical path raise the device error
        if b._shape == a._shape:
            pairs = zip(a._vals, b._vals)
            shape = a._shape
        elif len(b._vals) == 1:
            pairs = ((x, b._vals[0]) for x in a._vals)
            shape = a._shape
        elif len(a._vals) == 1:
            pairs = ((a._vals[0], y) for y in b._vals)
            shape = b._shape
        else:
            return None
        dt = a._dtype if a._dtype.mant_bits >= b._dtype.mant_bits else b._dtype
    else:
        y = float(b)
        pairs = ((x, y) for x in a._vals)
        shape = a._shape
        dt = a._dtype if a._dtype.is_floating_point or float(b).is_integer() else float32
    vals = [fn(x, y) for x, y in pairs]
    _work(a._device, len(vals), 3 * len(vals) * dt.itemsize, dt)
    if out_dtype is bool_:
        return Tensor(shape, bool_, a._device, isbool=True, vals=vals)
    return a._concrete(vals, dt=dt, shape=shape)


def _compact(err):
    """Keep the 16 largest error terms; fold the rest into one (same RMS)."""
    items = sorted(err.items(), key=lambda kv: -abs(kv[1]))
    keep = dict(items[:16])
    rest = items[16:]
    if rest:
        keep[_h("rest", tuple(k for k, _ in rest))] = math.sqrt(sum(c * c for _, c in rest))
    return keep


# ---------------------------------------------------------------- factories


def _factory_args(size, kwargs):
    if not size and "size" in kwargs:
        size = (kwargs["size"],)
    shape = _parse_size(size)
    dt = kwargs.get("dtype") or _default_dtype()
    dev = _resolve_device(kwargs.get("device"))
    return shape, dt, dev


def randn(*size, **kwargs):
    shape, dt, dev = _factory_args(size, kwargs)
    out = Tensor(shape, dt, dev, mean=0.0, sym=_draw("randn", dev), coef=1.0)
    _work(dev, 0, out._nbytes, dt)
    return out


def rand(*size, **kwargs):
    shape, dt, dev = _factory_args(size, kwargs)
    out = Tensor(shape, dt, dev, mean=0.5, sym=_draw("rand", dev), coef=math.sqrt(1.0 / 12.0))
    _work(dev, 0, out._nbytes, dt)
    return out


def full(size, fill_value, **kwargs):
    shape, dt, dev = _factory_args((size,), kwargs)
    out = Tensor(shape, dt, dev, mean=float(fill_value))
    _work(dev, 0, out._nbytes, dt)
    return out


def ones(*size, **kwargs):
    shape, dt, dev = _factory_args(size, kwargs)
    out = Tensor(shape, dt, dev, mean=1.0)
    _work(dev, 0, out._nbytes, dt)
    return out


def zeros(*size, **kwargs):
    shape, dt, dev = _factory_args(size, kwargs)
    out = Tensor(shape, dt, dev, mean=0.0)
    # cudaMemset, not a kernel
    _work(dev, 0, out._nbytes, dt, kernel=False)
    return out


def empty(*size, **kwargs):
    shape, dt, dev = _factory_args(size, kwargs)
    return Tensor(shape, dt, dev, mean=0.0, sym=_draw("empty", dev), coef=1e3)


def _like_factory(fn):
    def f(t, **kwargs):
        kwargs.setdefault("dtype", t.dtype)
        kwargs.setdefault("device", t.device)
        return fn(*t.shape, **kwargs)

    return f


randn_like = _like_factory(randn)
rand_like = _like_factory(rand)
ones_like = _like_factory(ones)
zeros_like = _like_factory(zeros)
empty_like = _like_factory(empty)


def arange(start, end=None, step=1, **kwargs):
    if end is None:
        start, end = 0, start
    n = max(0, int(math.ceil((end - start) / float(step))))
    dt = kwargs.get("dtype") or (int64 if all(isinstance(x, int) for x in (start, end, step)) else float32)
    dev = _resolve_device(kwargs.get("device"))
    if n <= _MAX_CONCRETE:
        out = Tensor((n,), dt, dev, vals=[_round_to(dt, start + i * step) for i in range(n)])
    else:
        mean = start + step * (n - 1) / 2.0
        sd = abs(step) * math.sqrt((n * n - 1) / 12.0)
        out = Tensor((n,), dt, dev, mean=mean, sym=_h("arange", start, end, step), coef=sd)
    _work(dev, n, out._nbytes, dt)
    return out


def tensor(data, dtype=None, device=None, requires_grad=False):
    flat = []

    def walk(x, depth):
        if isinstance(x, (list, tuple)):
            shape_at.setdefault(depth, len(x))
            for y in x:
                walk(y, depth + 1)
        else:
            flat.append(float(x))

    shape_at = {}
    walk(data, 0)
    shape = tuple(shape_at[i] for i in range(len(shape_at)))
    if dtype is None:
        if isinstance(data, bool) or (flat and all(isinstance(v, bool) for v in _leaves(data))):
            dtype = bool_
        elif all(isinstance(v, int) for v in _leaves(data)):
            dtype = int64
        else:
            dtype = float32
    dev = _resolve_device(device)
    n = len(flat)
    if n <= _MAX_CONCRETE:
        out = Tensor(shape, dtype, dev, isbool=dtype is bool_, vals=[_round_to(dtype, v) for v in flat])
    else:
        mean = sum(flat) / n
        var = sum((v - mean) ** 2 for v in flat) / n
        out = Tensor(shape, dtype, dev, mean=mean, sym=_h("data", tuple(flat)) if var else None,
                     coef=math.sqrt(var))
    _work(dev, 0, out._nbytes, dtype, kernel=False)
    return out


def _leaves(x):
    if isinstance(x, (list, tuple)):
        for y in x:
            for z in _leaves(y):
                yield z
    else:
        yield x


# ---------------------------------------------------------------- linear algebra


def _same_device(a, b, op):
    if a.device != b.device:
        raise RuntimeError(
            "Expected all tensors to be on the same device, but found at least two devices, %s and %s! "
            "(when checking argument for argument mat2 in method wrapper_%s_%s)"
            % (b.device if a.device.type == "cpu" else a.device, a.device if a.device.type == "cpu" else b.device,
               "CUDA" if "cuda" in (a.device.type, b.device.type) else "CPU", op)
        )


def _contract(a, b, k, out_shape, op, flops, kernel=True):
    """The value model of a contraction over k terms (matmul, conv)."""
    dev = a.device
    ma, mb = a._mean, b._mean
    sa2, sb2 = a._coef ** 2 + ma * ma, b._coef ** 2 + mb * mb
    mean = k * ma * mb
    rand = math.sqrt(max(0.0, k * (sa2 * sb2 - (ma * mb) ** 2)))
    ida, idb = a._vident(), b._vident()
    sym = _h(op, ida, idb) if rand else None
    err = {}
    for key, c in a._err.items():
        err[_h(op + "L", key, idb)] = c * math.sqrt(k * sb2)
    for key, c in b._err.items():
        err[_h(op + "R", ida, key)] = c * math.sqrt(k * sa2)
    out_dt = a.dtype
    mag = math.sqrt(mean * mean + rand * rand)
    exact = (not rand and not err and float(mean).is_integer() and abs(mean) < 2.0 ** 24)
    if not exact and mag > 0:
        # float32 accumulation in a blocked order that differs between devices
        err[_h(op + "-round", dev.type, ida, idb)] = 0.3 * float32.eps * math.sqrt(k) * mag
        if out_dt.mant_bits < 24:
            err[_h(op + "-out", ida, idb, out_dt.name)] = 0.29 * out_dt.eps * mag
    if dev.type == "cuda" and machine().wrong_results:
        err[_h("garbage", ida, idb)] = max(mag, 1.0)
    out = Tensor(out_shape, out_dt, dev, mean=mean, sym=sym, coef=rand, err=err)
    _work(dev, flops, a._nbytes + b._nbytes + out._nbytes, out_dt, kernel=kernel)
    return out


def _autocast_inputs(*ts):
    dt = _autocast_dtype(ts[0].device)
    if dt is None:
        return ts
    return tuple(t._cast(dt) if t.dtype.is_floating_point and t.dtype is not dt else t for t in ts)


def matmul(a, b):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul(): argument 'other' must be Tensor")
    _same_device(a, b, "mm")
    a, b = _autocast_inputs(a._plain(), b._plain())
    if a.dtype is not b.dtype:
        raise RuntimeError("expected m1 and m2 to have the same dtype, but got: %s != %s"
                           % (a.dtype.c10_name, b.dtype.c10_name))
    sa, sb = a._shape, b._shape
    if not sa or not sb:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are %dD and %dD"
                           % (len(sa), len(sb)))
    squeeze_front = len(sa) == 1
    squeeze_back = len(sb) == 1
    ma = (1,) + sa if squeeze_front else sa
    mb = sb + (1,) if squeeze_back else sb
    n, k = ma[-2], ma[-1]
    k2, m = mb[-2], mb[-1]
    if k != k2:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (%dx%d and %dx%d)" % (n, k, k2, m))
    batch = _broadcast(ma[:-2], mb[:-2])
    out_shape = batch + ((n,) if not squeeze_front else ()) + ((m,) if not squeeze_back else ())
    flops = 2.0 * _numel(batch) * n * k * m
    if a._vals is not None and b._vals is not None and not batch and flops <= 2e6:
        av, bv = a._vals, b._vals
        vals = [math.fsum(av[i * k + j] * bv[j * m + c] for j in range(k)) for i in range(n) for c in range(m)]
        _work(a.device, flops, a._nbytes + b._nbytes, a.dtype, kernel="cublas")
        return a._concrete(vals, shape=out_shape)
    return _contract(a, b, k, out_shape, "mm", flops, kernel="cublas")


mm = matmul


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element satisfies |a - b| <= atol + rtol * |b|, judged from the value
    model: the expected number of failing elements must be below one half."""
    if not isinstance(b, Tensor):
        b = tensor(b, device=a.device)
    _same_device(a, b, "isclose")
    d = a._plain() - b._plain()
    n = _numel(_broadcast(a._shape, b._shape))
    bp = b._plain()
    md, sd = d._mean, d._rms()
    mb, sb = bp._mean, bp._rms()

    def p_fail(bv):
        t = atol + rtol * abs(bv)
        if sd == 0:
            return 1.0 if abs(md) > t else 0.0
        return _phi((-t - md) / sd) + (1.0 - _phi((t - md) / sd))

    if sb == 0:
        expected = n * p_fail(mb)
    else:
        pts = 81
        total, wsum = 0.0, 0.0
        for i in range(pts):
            z = -6.0 + 12.0 * i / (pts - 1)
            w = math.exp(-z * z / 2)
            total += w * p_fail(mb + sb * z)
            wsum += w
        expected = n * total / wsum
    return expected < 0.5
