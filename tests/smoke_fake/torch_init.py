# A small stand-in for the `torch` package, for testing torchup's smoke test without a GPU.
# It answers the torch API that assets/smoke_test.py uses, from the JSON in the environment
# variable FAKE_TORCH_SPEC. Tensors do real arithmetic on at most 8x8 values (the logical
# shape is kept), so CPU/GPU comparisons are genuine comparisons.
#
# Spec keys (all optional): version, cuda (null = CPU build), available, devices
# [{name, memory, cc: [major, minor]}], arch_list, import_error (raise OSError at import),
# print_on_import, avail_warning, capability_warning, wrong_matmul, kernel_error (raised
# by GPU element-wise kernels), autocast_dtype, cudnn (int or null), hang / crash (a check
# name: matmul), pid_file (hang mode writes its pid and a child's pid there), matmul_ms
# ({"cpu": ms, "cuda": ms}: a steady cost per matmul, for stable throughput numbers).

import json as _json
import os as _os
import random as _random
import sys as _sys
import types as _types
import warnings as _warnings

_SPEC = _json.loads(_os.environ.get("FAKE_TORCH_SPEC", "{}"))

if _SPEC.get("print_on_import"):
    print(_SPEC["print_on_import"])
if _SPEC.get("import_error"):
    raise OSError(_SPEC["import_error"])

__version__ = _SPEC.get("version", "2.5.1+cu124")
_CUDA = _SPEC.get("cuda", "12.4")
_DEVICES = _SPEC.get("devices", [{"name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory": 4294443008, "cc": [8, 6]}])
_AVAILABLE = bool(_CUDA) and _SPEC.get("available", True)
_ARCH = _SPEC.get("arch_list", ["sm_50", "sm_60", "sm_61", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"])
_rng = _random.Random(0)
_autocast = [False]


class dtype(object):
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torch." + self.name


float32 = dtype("float32")
float16 = dtype("float16")
bfloat16 = dtype("bfloat16")
_DTYPES = {"float32": float32, "float16": float16, "bfloat16": bfloat16}


def _maybe(event):
    if _SPEC.get("crash") == event:
        _os.abort()
    if _SPEC.get("hang") == event:
        import subprocess
        import time

        child = subprocess.Popen([_sys.executable, "-c", "import time; time.sleep(600)"])
        if _SPEC.get("pid_file"):
            with open(_SPEC["pid_file"], "w") as f:
                f.write("%d %d" % (_os.getpid(), child.pid))
        time.sleep(600)


class Tensor(object):
    def __init__(self, rows, shape, device="cpu", dt=float32):
        self.rows, self.shape, self.device, self.dtype = rows, tuple(shape), device, dt

    def _gpu_kernel(self):
        if self.device.startswith("cuda") and _SPEC.get("kernel_error"):
            raise RuntimeError(_SPEC["kernel_error"])

    def to(self, device):
        device = str(device)
        if device.startswith("cuda"):
            if not _CUDA:
                raise AssertionError("Torch not compiled with CUDA enabled")
            if not _AVAILABLE:
                raise RuntimeError("No CUDA GPUs are available")
        return Tensor([list(r) for r in self.rows], self.shape, device, self.dtype)

    def cpu(self):
        return Tensor([list(r) for r in self.rows], self.shape, "cpu", self.dtype)

    def float(self):
        return Tensor(self.rows, self.shape, self.device, float32)

    def __matmul__(self, other):
        _maybe("matmul")
        cost = _SPEC.get("matmul_ms", {}).get("cuda" if self.device.startswith("cuda") else "cpu")
        if cost:
            import time

            time.sleep(cost / 1000.0)
        n, k, m = len(self.rows), len(other.rows), len(other.rows[0])
        out = [[sum(self.rows[i][t] * other.rows[t][j] for t in range(k)) for j in range(m)] for i in range(n)]
        dt = float32
        if self.device.startswith("cuda"):
            if _SPEC.get("wrong_matmul"):
                out = [[v + 1.0 for v in r] for r in out]
            if _autocast[0]:
                dt = _DTYPES.get(_SPEC.get("autocast_dtype", "float16"))
                out = [[round(v, 2) for v in r] for r in out]
        return Tensor(out, (self.shape[0], other.shape[1]), self.device, dt)

    def __sub__(self, other):
        self._gpu_kernel()
        return Tensor([[a - b for a, b in zip(r, s)] for r, s in zip(self.rows, other.rows)], self.shape, self.device)

    def __truediv__(self, other):
        self._gpu_kernel()
        return Tensor([[v / other.rows[0][0] for v in r] for r in self.rows], self.shape, self.device)

    def norm(self):
        self._gpu_kernel()
        return Tensor([[sum(v * v for r in self.rows for v in r) ** 0.5]], (), self.device)

    def item(self):
        return self.rows[0][0]


def manual_seed(seed):
    _rng.seed(seed)


def randn(*shape):
    if len(shape) == 2:
        n, m = min(shape[0], 8), min(shape[1], 8)
    else:  # conv inputs: keep a 4x4 slab
        n, m = 4, 4
    return Tensor([[_rng.gauss(0, 1) for _ in range(m)] for _ in range(n)], shape)


version = _types.ModuleType("torch.version")
version.cuda = _CUDA
version.hip = None

cuda = _types.ModuleType("torch.cuda")


def _is_available():
    if _SPEC.get("avail_warning"):
        _warnings.warn(_SPEC["avail_warning"], UserWarning)
    return _AVAILABLE


class _Props(object):
    def __init__(self, d):
        self.total_memory = d["memory"]
        self.name = d["name"]


def _capability(i):
    if _SPEC.get("capability_warning"):
        _warnings.warn(_SPEC["capability_warning"], UserWarning)
    return tuple(_DEVICES[i]["cc"])


cuda.is_available = _is_available
cuda.device_count = lambda: len(_DEVICES) if _AVAILABLE else 0
cuda.get_device_name = lambda i=0: _DEVICES[i]["name"]
cuda.get_device_properties = lambda i=0: _Props(_DEVICES[i])
cuda.get_device_capability = _capability
cuda.get_arch_list = lambda: list(_ARCH) if _AVAILABLE else []
cuda.synchronize = lambda device=None: None

amp = _types.ModuleType("torch.amp")


class autocast(object):
    def __init__(self, device_type, dtype=None):
        self.device_type = device_type

    def __enter__(self):
        _autocast[0] = True

    def __exit__(self, *exc):
        _autocast[0] = False


amp.autocast = autocast

backends = _types.ModuleType("torch.backends")
backends.cudnn = _types.ModuleType("torch.backends.cudnn")
backends.cudnn.version = lambda: _SPEC.get("cudnn", 90100) if _CUDA else None
backends.cudnn.is_available = lambda: bool(_CUDA) and _SPEC.get("cudnn", 90100) is not None
backends.cuda = _types.ModuleType("torch.backends.cuda")
backends.cuda.matmul = _types.SimpleNamespace(allow_tf32=False)

nn = _types.ModuleType("torch.nn")
nn.functional = _types.ModuleType("torch.nn.functional")


def _conv2d(x, w, padding=0):
    if x.device.startswith("cuda"):
        x._gpu_kernel()
    s = sum(v for r in x.rows for v in r) * sum(v for r in w.rows for v in r)
    return Tensor([[s, -s], [s / 2, 1.0]], (x.shape[0], w.shape[0], x.shape[2], x.shape[3]), x.device)


nn.functional.conv2d = _conv2d

for _name, _mod in [("torch.version", version), ("torch.cuda", cuda), ("torch.amp", amp),
                    ("torch.backends", backends), ("torch.backends.cudnn", backends.cudnn),
                    ("torch.backends.cuda", backends.cuda), ("torch.nn", nn),
                    ("torch.nn.functional", nn.functional)]:
    _sys.modules[_name] = _mod
