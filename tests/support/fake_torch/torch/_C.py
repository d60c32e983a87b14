"""Stand-in for torch's native extension: the CUDA runtime seen through c10.

Real torch only defines the `_cuda_*` functions in CUDA builds (`torch.cuda._is_compiled()`
is `hasattr(torch._C, "_cuda_getDeviceCount")`); this module deletes them for CPU builds.
Texts are copied from c10/cuda/CUDAFunctions.cpp and torch/cuda/__init__.py.
"""

import os
import threading
import warnings

from . import _build
from ._machine import machine, clock

_NO_DRIVER = (
    "Found no NVIDIA driver on your system. Please check that you "
    "have an NVIDIA GPU and installed a driver from "
    "http://www.nvidia.com/Download/index.aspx"
)
_TOO_OLD = (
    "The NVIDIA driver on your system is too old (found version {}). "
    "Please update your GPU driver by downloading and installing "
    "a new version from the URL: "
    "http://www.nvidia.com/Download/index.aspx Alternatively, go to: "
    "https://pytorch.org to install a PyTorch version that has been "
    "compiled with your version of the CUDA driver."
)
_NO_GPUS = "No CUDA GPUs are available"

_CUDA_ERROR_SUFFIX = (
    "\nCUDA kernel errors might be asynchronously reported at some other API call, "
    "so the stacktrace below might be incorrect.\n"
    "For debugging consider passing CUDA_LAUNCH_BLOCKING=1\n"
    "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n"
)


def _triggered_at(line):
    v = _build.version_tuple()
    if _build.BUILD.get("os") == "windows":
        root = "C:\\actions-runner\\_work\\pytorch\\pytorch\\pytorch\\c10\\cuda\\CUDAFunctions.cpp"
    elif v < (2, 6):
        root = "../c10/cuda/CUDAFunctions.cpp"
    else:
        root = "/pytorch/c10/cuda/CUDAFunctions.cpp"
    return " (Triggered internally at %s:%d.)" % (root, line)


def _warn_line():
    v = _build.version_tuple()
    return 108 if v < (2, 6) else (109 if v < (2, 9) else 119)


class _State:
    """Process-wide CUDA state, like the driver's: CUDA_VISIBLE_DEVICES is read once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.visible = None
        self.count = None
        self.initialized = False
        self.jitted = set()
        self.current = 0

    def devices(self):
        if self.visible is None:
            self.visible = machine().visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES"))
        return self.visible


state = _State()


def _driver_problem():
    """None when the driver can run this build, else the c10 error text."""
    m = machine()
    if m.driver_cuda is None:
        return _NO_DRIVER
    build = _build.cuda_tuple()
    # CUDA minor-version compatibility: a driver of the same major runs any minor's runtime
    # (the wheels need >= 525.60.13 for 12.x, >= 580 for 13.x, i.e. the major's first driver).
    if m.driver_cuda[0] < build[0]:
        return _TOO_OLD.format(m.driver_version_int())
    return None


def _device_count_impl(fail_if_no_driver):
    problem = _driver_problem()
    if problem is _NO_DRIVER:
        if not fail_if_no_driver:
            return 0
        raise RuntimeError(problem)
    if problem is not None:
        raise RuntimeError(problem)
    return len(state.devices())


def _cuda_getDeviceCount():
    # c10::cuda::device_count(): computed once; a failure is a warning and zero devices.
    if state.count is None:
        try:
            state.count = _device_count_impl(False)
        except RuntimeError as e:
            warnings.warn("CUDA initialization: " + str(e) + _triggered_at(_warn_line()), UserWarning, stacklevel=2)
            state.count = 0
    return state.count


def _cuda_init():
    # device_count_ensure_non_zero(): the errors device_count() only warned about.
    count = _device_count_impl(True)
    if count == 0:
        raise RuntimeError(_NO_GPUS)
    machine().maybe_crash("cuda_init")
    state.initialized = True


def _cuda_getArchFlags():
    return " ".join(_build.BUILD.get("arch_list") or []) or None


def _cuda_getCompiledVersion():
    major, minor = _build.cuda_tuple()
    return major * 1000 + minor * 10


def _cuda_isInBadFork():
    return False


def _cuda_getDevice():
    return state.current


def _cuda_setDevice(index):
    state.current = index


def _cuda_synchronize():
    clock.synchronize(state.current)


def _cuda_getDriverVersion():
    return machine().driver_version_int()


_has_cudnn = _build.BUILD.get("cudnn") is not None


def _cudnn_version():
    return _build.BUILD.get("cudnn")


def _cuda_error(text):
    """The exception real torch raises for a CUDA runtime error."""
    from . import AcceleratorError

    cls = AcceleratorError if _build.version_tuple() >= (2, 9) else RuntimeError
    return cls("CUDA error: " + text + _CUDA_ERROR_SUFFIX)


def _arch_number(arch):
    digits = "".join(ch for ch in arch.split("_", 1)[-1] if ch.isdigit())
    return int(digits) if digits else 0


def kernel_support(cc):
    """How this build's fat binary covers a device of capability `cc` (major, minor):
    "sass" (a cubin of the same major with minor <= the device's), "ptx" (only a compute_XY
    entry <= the device, which the driver must JIT), or None (no kernel image)."""
    dev = cc[0] * 10 + cc[1]
    arches = _build.BUILD.get("arch_list") or []
    for a in arches:
        if a.startswith("sm_"):
            n = _arch_number(a)
            if n // 10 == cc[0] and n % 10 <= cc[1]:
                return "sass"
    for a in arches:
        if a.startswith("compute_") and _arch_number(a) <= dev:
            return "ptx"
    return None


def check_kernel(device):
    """Called before every simulated kernel launch on `device` (a Device of the machine)."""
    machine().maybe_crash("kernel")
    how = kernel_support(device.cc)
    if how is None:
        raise _cuda_error("no kernel image is available for execution on the device")
    if how == "ptx":
        m = machine()
        if m.driver_cuda < _build.cuda_tuple():
            raise _cuda_error("the provided PTX was compiled with an unsupported toolchain.")
        if device.index not in state.jitted:
            # The driver JIT-compiles every kernel the first time: slow, once per process.
            state.jitted.add(device.index)
            clock.cpu_work(m.jit_ms / 1000.0 * m.time_scale)


# cuBLAS's own fat binary: every architecture its CUDA release supports (SASS plus PTX of the
# newest), far more than torch's arch list. CUDA 13 dropped Maxwell, Pascal and Volta.
_CUBLAS_MIN_CC = {12: (5, 0), 13: (7, 5)}


def check_cublas(device):
    """Called before every simulated cuBLAS call (matmul) on `device`: it succeeds on a GPU
    torch's arch list lacks, the way real cuBLAS does (so only a check that runs one of torch's
    own kernels on the GPU catches the missing architecture)."""
    machine().maybe_crash("kernel")
    build = _build.cuda_tuple()
    if device.cc < _CUBLAS_MIN_CC.get(build[0], (5, 0)):
        raise _cuda_error("CUBLAS_STATUS_ARCH_MISMATCH when calling `cublasCreate(handle)`")


if _build.BUILD.get("cuda") is None:
    # A CPU build has none of the CUDA bindings.
    for _name in [n for n in list(globals()) if n.startswith("_cuda") or n.startswith("_cudnn")]:
        del globals()[_name]
    _has_cudnn = False
    del _name
