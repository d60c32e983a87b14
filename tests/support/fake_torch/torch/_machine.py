"""The simulated machine: GPUs, driver and fault switches, read from TORCHUP_FAKE_GPU (JSON).

This is torchup's test stand-in for the NVIDIA driver and hardware. Everything the fake
torch does on "CUDA" follows from this description compared with the build baked into the
wheel (torch/_fake_build.py), the way real torch's behaviour follows from the real machine.
The schema is documented in torchup's docs/testing.md.
"""

import hashlib
import json
import os
import threading
import time

ENV_VAR = "TORCHUP_FAKE_GPU"


class FakeGpuConfigError(RuntimeError):
    """TORCHUP_FAKE_GPU is malformed: a bug in the test, not a simulated failure."""


def _parse_cuda_level(text, what):
    if text is None:
        return None
    parts = str(text).strip().split(".")
    try:
        major = int(parts[0])
        minor = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise FakeGpuConfigError("%s: %s=%r is not a CUDA level like \"12.4\"" % (ENV_VAR, what, text))
    return (major, minor)


class Device:
    __slots__ = ("index", "name", "memory_mib", "cc", "gflops", "used_mib", "sm_count", "uuid")

    def __init__(self, index, spec):
        if not isinstance(spec, dict):
            raise FakeGpuConfigError("%s: devices[%d] must be an object" % (ENV_VAR, index))
        self.index = index
        self.name = str(spec.get("name", "NVIDIA Simulated GPU"))
        self.memory_mib = int(spec.get("memory_mib", 4096))
        cc = spec.get("cc", spec.get("compute_capability", [8, 6]))
        if isinstance(cc, str):
            cc = cc.split(".")
        try:
            self.cc = (int(cc[0]), int(cc[1]))
        except (TypeError, ValueError, IndexError):
            raise FakeGpuConfigError("%s: devices[%d].cc must be [major, minor] or \"8.6\"" % (ENV_VAR, index))
        self.gflops = float(spec.get("gflops", 5000.0))
        self.used_mib = int(spec.get("used_mib", 0))
        self.sm_count = int(spec.get("sm_count", 16))
        digest = hashlib.sha1(("%s/%d" % (self.name, index)).encode()).hexdigest()
        self.uuid = spec.get("uuid") or "GPU-%s-%s-%s-%s-%s" % (
            digest[0:8], digest[8:12], digest[12:16], digest[16:20], digest[20:32])


class Machine:
    """What the simulated computer has. Built once per process from the environment."""

    def __init__(self, raw):
        if raw is None or raw.strip() == "":
            spec = {}
        else:
            try:
                spec = json.loads(raw)
            except ValueError as e:
                raise FakeGpuConfigError("%s is not valid JSON: %s" % (ENV_VAR, e))
            if not isinstance(spec, dict):
                raise FakeGpuConfigError("%s must be a JSON object" % ENV_VAR)
        self.spec = spec
        self.devices = [Device(i, d) for i, d in enumerate(spec.get("devices") or [])]
        self.driver_cuda = _parse_cuda_level(spec.get("driver_cuda"), "driver_cuda")
        # A GPU without a driver is invisible to CUDA, like on a real machine.
        self.cpu_gflops = float(spec.get("cpu_gflops", 100.0))
        self.time_scale = float(spec.get("time_scale", 1.0))
        self.import_error = spec.get("import_error")
        self.import_error_dll = str(spec.get("import_error_dll", "c10.dll"))
        self.vcredist_missing = bool(spec.get("vcredist_missing", False))
        self.wrong_results = bool(spec.get("wrong_results", False))
        self.slow_ms = float(spec.get("slow_ms", 0))
        self.jit_ms = float(spec.get("jit_ms", 50))
        self.context_mib = int(spec.get("context_mib", 300))
        self.import_delay_ms = float(spec.get("import_delay_ms", 0))
        self.crash = spec.get("crash")
        # The cuDNN the process actually loads when another copy shadows the wheel's
        # (9.1.0 -> 90100, like torch.backends.cudnn.version()); None: the build's own.
        self.cudnn_runtime = spec.get("cudnn_runtime")
        if self.cudnn_runtime is not None and not isinstance(self.cudnn_runtime, int):
            raise FakeGpuConfigError("%s: cudnn_runtime must be an int like 90100" % ENV_VAR)
        if self.import_error not in (None, "winerror126", "winerror1114"):
            raise FakeGpuConfigError("%s: import_error must be \"winerror126\" or \"winerror1114\"" % ENV_VAR)
        if self.crash not in (None, "import", "cuda_init", "kernel"):
            raise FakeGpuConfigError("%s: crash must be \"import\", \"cuda_init\" or \"kernel\"" % ENV_VAR)
        known = {"devices", "driver_cuda", "cpu_gflops", "time_scale", "import_error", "import_error_dll",
                 "vcredist_missing", "wrong_results", "slow_ms", "jit_ms", "context_mib", "import_delay_ms",
                 "crash", "driver_version", "cudnn_runtime"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise FakeGpuConfigError("%s: unknown keys %s (known: %s)" % (ENV_VAR, unknown, sorted(known)))

    def maybe_crash(self, where):
        """Die like a native crash (SIGSEGV; an access violation's exit code on Windows)."""
        if self.crash == where:
            import sys

            sys.stdout.flush()
            sys.stderr.flush()
            if os.name == "nt":
                os._exit(0xC0000005)
            import signal

            os.kill(os.getpid(), signal.SIGSEGV)

    def driver_version_int(self):
        """What cudaDriverGetVersion reports: 12.2 -> 12020; 0 when there is no driver."""
        if self.driver_cuda is None:
            return 0
        return self.driver_cuda[0] * 1000 + self.driver_cuda[1] * 10

    def visible_devices(self, cuda_visible_devices):
        """Apply CUDA_VISIBLE_DEVICES like the CUDA runtime: a comma list of indices, read
        once; parsing stops at the first entry that is not a valid, unused index; "" or "-1"
        hide everything; unset shows all."""
        if self.driver_cuda is None:
            return []
        if cuda_visible_devices is None:
            return list(self.devices)
        out = []
        for tok in cuda_visible_devices.split(","):
            tok = tok.strip()
            chosen = None
            if tok.isdigit() and int(tok) < len(self.devices):
                chosen = self.devices[int(tok)]
            else:
                for d in self.devices:
                    if tok and d.uuid.startswith(tok):
                        chosen = d
            if chosen is None or chosen in out:
                break
            out.append(chosen)
        return out


_machine = None
_lock = threading.Lock()


def machine():
    global _machine
    if _machine is None:
        with _lock:
            if _machine is None:
                _machine = Machine(os.environ.get(ENV_VAR))
    return _machine


class Clock:
    """Simulated time. CPU work sleeps right away (batched, so tiny ops do not overshoot);
    GPU work is queued on the device's stream and waited for on synchronize, like CUDA's
    asynchronous launches."""

    def __init__(self):
        self.cpu_debt = 0.0
        self.busy_until = {}

    def cpu_work(self, seconds):
        self.cpu_debt += seconds
        if self.cpu_debt >= 0.002:
            start = time.perf_counter()
            time.sleep(self.cpu_debt)
            self.cpu_debt -= time.perf_counter() - start

    def gpu_work(self, index, seconds):
        now = time.perf_counter()
        start = max(now, self.busy_until.get(index, 0.0))
        self.busy_until[index] = start + seconds
        return self.busy_until[index]

    def gpu_time(self, index):
        """The stream's clock: when the work queued so far will be done."""
        return max(time.perf_counter(), self.busy_until.get(index, 0.0))

    def synchronize(self, index):
        wait = self.busy_until.get(index, 0.0) - time.perf_counter()
        if wait > 0:
            time.sleep(wait)


clock = Clock()
