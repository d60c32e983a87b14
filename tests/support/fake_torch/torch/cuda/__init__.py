"""torch.cuda of the fake torch: the same control flow as torch 2.x's torch/cuda/__init__.py
(lazy initialisation, queued capability checks, NVML-based device_count), over the simulated
machine in torch._machine."""

import os
import threading
import time
import warnings

import torch
from .. import _C, _build, _tensor
from .._machine import machine, clock


_initialized = False
_tls = threading.local()
_initialization_lock = threading.Lock()
_cached_device_count = None


def _is_compiled():
    return hasattr(torch._C, "_cuda_getDeviceCount")


def _nvml_based_avail():
    return os.getenv("PYTORCH_NVML_BASED_CUDA_CHECK") == "1"


def is_available():
    """Whether CUDA works: a CUDA build, a driver that can run it, and a visible device."""
    if not _is_compiled():
        return False
    if _nvml_based_avail():
        return device_count() > 0
    else:
        return torch._C._cuda_getDeviceCount() > 0


def _device_count_nvml():
    """NVML counts GPUs whenever a driver is loaded, even one too old for this build's
    runtime (so device_count() can be 1 while is_available() is False, as in real torch)."""
    m = machine()
    if m.driver_cuda is None:
        return -1  # libnvidia-ml cannot be loaded
    return len(m.visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES")))


def device_count():
    global _cached_device_count
    if not _is_compiled():
        return 0
    if _cached_device_count is not None:
        return _cached_device_count
    nvml_count = _device_count_nvml()
    r = torch._C._cuda_getDeviceCount() if nvml_count < 0 else nvml_count
    if _initialized:
        _cached_device_count = r
    return r


def is_initialized():
    return _initialized


def _extract_arch_version(arch_string):
    base = arch_string.split("_")[1]
    base = base.rstrip("a").rstrip("f")
    return int(base)


def _check_capability():
    if _build.version_tuple() >= (2, 8):
        _check_capability_28()
    else:
        _check_capability_old()


def _check_capability_old():
    incorrect_binary_warn = """
    Found GPU%d %s which requires CUDA_VERSION >= %d to
     work properly, but your PyTorch was compiled
     with CUDA_VERSION %d. Please install the correct PyTorch binary
     using instructions from https://pytorch.org
    """  # noqa: F841

    old_gpu_warn = """
    Found GPU%d %s which is of cuda capability %d.%d.
    PyTorch no longer supports this GPU because it is too old.
    The minimum cuda capability supported by this library is %d.%d.
    """

    if torch.version.cuda is not None:  # on ROCm we don't want this check
        for d in range(device_count()):
            capability = get_device_capability(d)
            major = capability[0]
            minor = capability[1]
            name = get_device_name(d)
            current_arch = major * 10 + minor
            min_arch = min(
                (_extract_arch_version(arch) for arch in torch.cuda.get_arch_list()),
                default=35,
            )
            if current_arch < min_arch:
                warnings.warn(old_gpu_warn % (d, name, major, minor, min_arch // 10, min_arch % 10))


def _check_capability_28():
    incompatible_gpu_warn = """
    Found GPU%d %s which is of cuda capability %d.%d.
    Minimum and Maximum cuda capability supported by this version of PyTorch is
    (%d.%d) - (%d.%d)
    """
    matched_cuda_warn = """
    Please install PyTorch with a following CUDA
    configurations: {} following instructions at
    https://pytorch.org/get-started/locally/
    """

    # Binary CUDA_ARCHES SUPPORTED by PyTorch (2.8's table; later releases list 13.0)
    if _build.version_tuple() >= (2, 9):
        CUDA_ARCHES_SUPPORTED = {
            "12.6": {"min": 50, "max": 90},
            "12.8": {"min": 70, "max": 120},
            "13.0": {"min": 75, "max": 120},
        }
    else:
        CUDA_ARCHES_SUPPORTED = {
            "12.6": {"min": 50, "max": 90},
            "12.8": {"min": 70, "max": 120},
            "12.9": {"min": 70, "max": 120},
        }

    if torch.version.cuda is not None and torch.cuda.get_arch_list():  # on ROCm we don't want this check
        for d in range(device_count()):
            capability = get_device_capability(d)
            major = capability[0]
            minor = capability[1]
            name = get_device_name(d)
            current_arch = major * 10 + minor
            min_arch = min((_extract_arch_version(arch) for arch in torch.cuda.get_arch_list()), default=50)
            max_arch = max((_extract_arch_version(arch) for arch in torch.cuda.get_arch_list()), default=50)
            if current_arch < min_arch or current_arch > max_arch:
                warnings.warn(
                    incompatible_gpu_warn
                    % (d, name, major, minor, min_arch // 10, min_arch % 10, max_arch // 10, max_arch % 10)
                )
                matched_arches = ""
                for arch, arch_info in CUDA_ARCHES_SUPPORTED.items():
                    if current_arch >= arch_info["min"] and current_arch <= arch_info["max"]:
                        matched_arches += f" {arch}"
                if matched_arches != "":
                    warnings.warn(matched_cuda_warn.format(matched_arches))


def _check_cubins():
    incompatible_device_warn = """
{} with CUDA capability sm_{} is not compatible with the current PyTorch installation.
The current PyTorch install supports CUDA capabilities {}.
If you want to use the {} GPU with PyTorch, please check the instructions at https://pytorch.org/get-started/locally/
"""
    if torch.version.cuda is None:  # on ROCm we don't want this check
        return
    arch_list = get_arch_list()
    if len(arch_list) == 0:
        return
    supported_sm = [_extract_arch_version(arch) for arch in arch_list if "sm_" in arch]
    for idx in range(device_count()):
        cap_major, cap_minor = get_device_capability(idx)
        # NVIDIA GPU compute architectures are backward compatible within major version
        supported = any(sm // 10 == cap_major for sm in supported_sm)
        if not supported:
            device_name = get_device_name(idx)
            capability = cap_major * 10 + cap_minor
            warnings.warn(incompatible_device_warn.format(device_name, capability, " ".join(arch_list), device_name))


_queued_calls = [_check_capability, _check_cubins]


class DeferredCudaCallError(Exception):
    pass


def init():
    _lazy_init()


def _lazy_init():
    global _initialized
    if is_initialized() or hasattr(_tls, "is_initializing"):
        return
    with _initialization_lock:
        if is_initialized():
            return
        if not hasattr(torch._C, "_cuda_getDeviceCount"):
            raise AssertionError("Torch not compiled with CUDA enabled")
        torch._C._cuda_init()
        _tls.is_initializing = True
        try:
            for queued_call in _queued_calls:
                try:
                    queued_call()
                except Exception as e:
                    msg = "CUDA call failed lazily at initialization with error: %s" % e
                    raise DeferredCudaCallError(msg) from e
        finally:
            delattr(_tls, "is_initializing")
        _initialized = True


def _index(device):
    if device is None:
        return torch._C._cuda_getDevice()
    if isinstance(device, int):
        return device
    if isinstance(device, str):
        device = torch.device(device)
    if isinstance(device, torch.device):
        if device.type != "cuda":
            raise ValueError("Expected a cuda device, but got: %s" % device)
        return torch._C._cuda_getDevice() if device.index is None else device.index
    raise ValueError("Expected a torch.device with a specified index or an integer, but got:%s" % (device,))


class _CudaDeviceProperties:
    def __init__(self, d):
        self.name = d.name
        self.major, self.minor = d.cc
        self.total_memory = d.memory_mib * 1024 * 1024
        self.multi_processor_count = d.sm_count
        self.uuid = d.uuid[4:]
        self.is_integrated = 0
        self.is_multi_gpu_board = 0
        self.L2_cache_size = 2 * 1024 * 1024

    def __repr__(self):
        return (
            "_CudaDeviceProperties(name='%s', major=%d, minor=%d, total_memory=%dMB, multi_processor_count=%d, "
            "uuid=%s, L2_cache_size=%dMB)"
            % (self.name, self.major, self.minor, self.total_memory // (1024 * 1024), self.multi_processor_count,
               self.uuid, self.L2_cache_size // (1024 * 1024))
        )


def get_device_properties(device=None):
    _lazy_init()
    device = _index(device)
    if device < 0 or device >= device_count():
        raise AssertionError("Invalid device id")
    return _CudaDeviceProperties(_C.state.devices()[device])


def get_device_name(device=None):
    return get_device_properties(device).name


def get_device_capability(device=None):
    prop = get_device_properties(device)
    return prop.major, prop.minor


def get_arch_list():
    if not is_available():
        return []
    arch_flags = torch._C._cuda_getArchFlags()
    if arch_flags is None:
        return []
    return arch_flags.split()


def get_gencode_flags():
    arch_list = get_arch_list()
    if len(arch_list) == 0:
        return ""
    arch_list_ = [arch.split("_") for arch in arch_list]
    return " ".join([f"-gencode compute=compute_{arch},code={kind}_{arch}" for (kind, arch) in arch_list_])


def current_device():
    _lazy_init()
    return torch._C._cuda_getDevice()


def set_device(device):
    idx = _index(device)
    if idx >= 0:
        _lazy_init()
        torch._C._cuda_setDevice(idx)


def synchronize(device=None):
    _lazy_init()
    idx = _index(device)
    clock.synchronize(idx)


def mem_get_info(device=None):
    _lazy_init()
    return _tensor._mem_info(_index(device))


def memory_allocated(device=None):
    if not is_initialized():
        return 0
    return _tensor._allocated.get(_index(device), 0)


def max_memory_allocated(device=None):
    if not is_initialized():
        return 0
    return _tensor._peak.get(_index(device), 0)


def memory_reserved(device=None):
    if not is_initialized():
        return 0
    return _tensor._reserved(_index(device))


def reset_peak_memory_stats(device=None):
    if is_initialized():
        idx = _index(device)
        _tensor._peak[idx] = _tensor._allocated.get(idx, 0)


def empty_cache():
    pass


def manual_seed(seed):
    _tensor._seeds["cuda"] = [int(seed), 0]


def manual_seed_all(seed):
    manual_seed(seed)


def seed_all():
    pass


def is_bf16_supported(including_emulation=True):
    if not is_available():
        return False
    return get_device_capability()[0] >= 8 or including_emulation


class Event:
    """A CUDA event on the simulated stream clock: elapsed_time() is the simulated GPU time
    between two records, so GPU-vs-CPU throughput ratios come out as configured."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.enable_timing = enable_timing
        self._t = None
        self._device = None

    def record(self, stream=None):
        _lazy_init()
        self._device = torch._C._cuda_getDevice() if stream is None else stream.device.index
        self._t = clock.gpu_time(self._device)

    def query(self):
        return self._t is None or time.perf_counter() >= self._t

    def synchronize(self):
        if self._t is not None:
            wait = self._t - time.perf_counter()
            if wait > 0:
                time.sleep(wait)

    def wait(self, stream=None):
        pass

    def elapsed_time(self, end_event):
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        if self._t is None or end_event._t is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        end_event.synchronize()
        return (end_event._t - self._t) * 1000.0


class Stream:
    def __init__(self, device=None, priority=0):
        _lazy_init()
        self.device = torch.device("cuda", _index(device))

    def synchronize(self):
        clock.synchronize(self.device.index)

    def query(self):
        return clock.gpu_time(self.device.index) <= time.perf_counter()

    def wait_stream(self, stream):
        pass

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event


def current_stream(device=None):
    return Stream(device)


def default_stream(device=None):
    return Stream(device)


class _StreamContext:
    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        return False


def stream(stream):
    return _StreamContext(stream)


class device:
    """Context manager that selects a device."""

    def __init__(self, device):
        self.idx = _index(device) if device is not None else -1
        self.prev_idx = -1

    def __enter__(self):
        if self.idx == -1:
            return
        _lazy_init()
        self.prev_idx = torch._C._cuda_getDevice()
        torch._C._cuda_setDevice(self.idx)

    def __exit__(self, *args):
        if self.prev_idx != -1:
            torch._C._cuda_setDevice(self.prev_idx)
        return False


OutOfMemoryError = torch.OutOfMemoryError

from . import amp  # noqa: E402,F401  (torch.cuda.amp, deprecated spelling)
