# torchup GPU smoke test (embedded in the torchup binary; also runnable by hand).
#
#   python smoke_test.py            one JSON document on stdout
#   python smoke_test.py --pretty   the same, indented
#
# It prints exactly ONE JSON document on stdout, whatever happens: torch missing, a DLL
# error, a CPU build, an unexpected exception. Anything else that would reach stdout
# (torch's own prints, C libraries writing to fd 1) is moved to stderr or captured into
# the document. torchup passes --progress to get a line on stderr before and after each
# check, so it can still tell which check was running if the interpreter crashes or hangs.
#
# It never trusts torch.cuda.is_available() alone: it reports every GPU's compute
# capability and torch.cuda.get_arch_list() (torchup decides whether the list covers the
# GPU) and runs real kernels whose results are compared with the CPU. Work is kept small (well under a second of GPU/CPU time).
# Python 3.6+ syntax, standard library only.

import sys

# `python -c` puts the current directory first on sys.path. torchup runs this from
# wherever the user happens to be, so a stray json.py or torch/ there must not hijack the
# test. User site-packages, PYTHONPATH and .pth files stay: the user's program sees them.
if sys.path and sys.path[0] in ("", "."):
    del sys.path[0]

import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

SCHEMA = 1
MATMUL_N = 1000  # the guide's 1000x1000 test
# Relative Frobenius error allowed against the CPU result. fp32 gives ~1e-6, TF32 (if the
# user enabled it) ~1e-3, fp16 under autocast ~1e-3; a wrong kernel gives ~1.
MATMUL_RTOL = 1e-2
FP16_RTOL = 2e-2
CONV_RTOL = 1e-2
BENCH_N = 1024
BENCH_SECONDS = 0.15  # per side, after one warm-up (a fast GPU stops at BENCH_MAX_REPS)
BENCH_MAX_REPS = 256
PROGRESS_PREFIX = "torchup-smoke: "


def _now_ms():
    return time.perf_counter() * 1000.0


def _exc_text(exc):
    """The full exception text, e.g. 'OSError: [WinError 126] ... Error loading "...c10.dll" ...'."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _warning_text(w):
    return "%s: %s" % (getattr(w.category, "__name__", "Warning"), str(w.message).strip())


def _version_of(dist):
    try:
        try:
            from importlib import metadata
        except ImportError:  # Python < 3.8
            return None
        return metadata.version(dist)
    except Exception:
        return None


def _torch_version_file():
    """torch/version.py's __version__ without importing torch: "2.5.1+cu124" where the wheel's
    metadata says only "2.5.1" (PyPI's CUDA builds carry no local label)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("torch")
        origin = spec and spec.origin
        if not origin:
            return None
        with open(os.path.join(os.path.dirname(origin), "version.py")) as f:
            m = re.search(r"^__version__\s*(?::\s*str\s*)?=\s*['\"]([^'\"]+)['\"]", f.read(), re.M)
        return m.group(1) if m else None
    except Exception:
        return None


def _cudnn_text(v):
    """torch.backends.cudnn.version(): 8902 = 8.9.2, 90100 = 9.1.0."""
    if not v:
        return None
    v = int(v)
    if v >= 10000:
        return "%d.%d.%d" % (v // 10000, (v % 10000) // 100, v % 100)
    return "%d.%d.%d" % (v // 1000, (v % 1000) // 100, v % 100)


def _rel_err(torch, got, ref):
    """||got - ref|| / ||ref||, computed on the CPU (a broken GPU must not grade itself)."""
    got = got.float().cpu()
    den = ref.norm().item()
    num = (got - ref).norm().item()
    return num / den if den else num


class Smoke(object):
    def __init__(self, progress):
        self.progress = progress
        self.recorded = []  # filled by warnings.catch_warnings(record=True)
        self.torch = None
        self.doc = {
            "schema": SCHEMA,
            "ok": False,
            "torch": {"version": None, "cuda": None},
            "cuda_available": False,
            "devices": [],
            "checks": [],
            "diagnoses": [],
            "torch_importable": False,
            "import_error": None,
            "torch_installed": None,
            "torch_requires": [],
            "warnings": [],
            "gpu_gflops": None,
            "cpu_gflops": None,
            "cudnn": None,
            "arch_list": [],
            "python": _python_info(),
            "torch_path": None,
            "torch_from_user_site": False,
            "packages": {},
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "captured_stdout": None,
            "total_ms": 0.0,
        }

    # -- plumbing -------------------------------------------------------------------------

    def emit(self, kind, payload):
        if not self.progress:
            return
        line = PROGRESS_PREFIX + kind + " " + payload + "\n"
        try:
            os.write(2, line.encode("utf-8", "replace"))
        except Exception:
            pass

    def check(self, name, fn):
        """Run fn() -> (ok, detail) as the check `name`; warnings raised meanwhile join the detail."""
        self.emit("begin", name)
        seen = len(self.recorded)
        start = _now_ms()
        try:
            ok, detail = fn()
        except Exception as exc:
            ok, detail = False, _exc_text(exc)
        ms = round(_now_ms() - start, 1)
        new = []
        for w in self.recorded[seen:]:
            text = _warning_text(w)
            if text not in self.doc["warnings"]:
                self.doc["warnings"].append(text)
            if text not in new:
                new.append(text)
        if new:
            detail = (detail + "\n" if detail else "") + "\n".join("warning: " + t for t in new)
        self.doc["checks"].append({"name": name, "ok": bool(ok), "detail": detail, "ms": ms})
        self.emit("partial", json.dumps(self.doc))
        return bool(ok)

    def verdict(self):
        """CUDA works: every check passed and the GPU matmul was among them."""
        checks = self.doc["checks"]
        return bool(checks) and all(c["ok"] for c in checks) and any(c["name"] == "matmul" for c in checks)

    # -- the checks, in order ---------------------------------------------------------------

    def run(self):
        self.run_checks()
        if self.torch is not None and self.doc["cpu_gflops"] is None:
            self.cpu_throughput()

    def cpu_throughput(self):
        """No GPU check got that far: still measure the CPU (the figure a GPU is compared with,
        and what a CPU-only user trains at). Not a check: it cannot fail the verdict."""
        self.emit("begin", "cpu_throughput")
        try:
            cpu = self._gflops("cpu", lambda: None)
            self.doc["cpu_gflops"] = round(cpu, 1) if cpu else None
        except Exception:
            pass

    def run_checks(self):
        if not self.check("import_torch", self.import_torch):
            return
        if not self.check("cuda_build", self.cuda_build):
            return
        if not self.check("cuda_available", self.cuda_available):
            return
        if not self.check("devices", self.devices):
            return
        self.check("arch_supported", self.arch_supported)
        if not self.check("matmul", self.matmul):
            return
        self.check("fp16_autocast", self.fp16_autocast)
        self.check("cudnn_conv", self.cudnn_conv)
        self.check("throughput", self.throughput)

    def import_torch(self):
        try:
            import torch
        except BaseException as exc:  # a DLL error can surface as anything; SystemExit too
            self.doc["import_error"] = traceback.format_exc().strip()
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._torch_distribution()
            if isinstance(exc, ImportError) and getattr(exc, "name", None) == "torch":
                return False, "torch is not installed in this interpreter (%s)" % _exc_text(exc)
            return False, _exc_text(exc)
        self.torch = torch
        doc = self.doc
        doc["torch_importable"] = True
        doc["torch"]["version"] = str(getattr(torch, "__version__", "unknown"))
        path = os.path.dirname(os.path.abspath(getattr(torch, "__file__", "") or ""))
        doc["torch_path"] = path
        user_site = doc["python"].get("user_site")
        doc["torch_from_user_site"] = bool(user_site) and path.startswith(user_site)
        for dist in ("torchvision", "torchaudio", "xformers", "numpy", "pip"):
            v = _version_of(dist)
            if v:
                doc["packages"][dist] = v
        where = " (user site-packages: shadows the environment's own)" if doc["torch_from_user_site"] else ""
        return True, "torch %s from %s%s" % (doc["torch"]["version"], path, where)

    def _torch_distribution(self):
        """torch is installed but does not import: its version and the CUDA library wheels it
        requires (a missing libcudnn.so.9 is named after the nvidia-* wheel that ships it)."""
        self.doc["torch_installed"] = _torch_version_file() or _version_of("torch")
        try:
            from importlib import metadata

            reqs = metadata.requires("torch") or []
        except Exception:
            reqs = []
        self.doc["torch_requires"] = [r for r in reqs if re.match(r"(?i)^(nvidia|cuda)[-_]", r)]

    def cuda_build(self):
        torch = self.torch
        cuda = getattr(torch.version, "cuda", None)
        self.doc["torch"]["cuda"] = str(cuda) if cuda else None
        if cuda:
            return True, "built for CUDA %s (the runtime ships inside the wheel)" % cuda
        hip = getattr(torch.version, "hip", None)
        if hip:
            return False, "ROCm build (HIP %s), not a CUDA build" % hip
        return False, "CPU-only build: torch.version.cuda is None"

    def cuda_available(self):
        torch = self.torch
        avail = bool(torch.cuda.is_available())
        self.doc["cuda_available"] = avail
        count = 0
        if avail:
            count = int(torch.cuda.device_count())
        detail = "torch.cuda.is_available() = %s" % avail
        if avail:
            detail += ", %d device%s" % (count, "" if count == 1 else "s")
        cvd = self.doc["cuda_visible_devices"]
        if cvd is not None:
            detail += ", CUDA_VISIBLE_DEVICES=%r" % cvd
        return avail and count > 0, detail

    def devices(self):
        torch = self.torch
        lines = []
        for i in range(int(torch.cuda.device_count())):
            name = str(torch.cuda.get_device_name(i))
            props = torch.cuda.get_device_properties(i)
            mem = int(getattr(props, "total_memory", 0)) // (1024 * 1024) or None
            major, minor = torch.cuda.get_device_capability(i)
            cc = "%d.%d" % (major, minor)
            self.doc["devices"].append(
                {"name": name, "memory_mib": mem, "compute_capability": cc}
            )
            lines.append("GPU %d: %s, %s MiB, compute capability %s" % (i, name, mem, cc))
        return bool(lines), "\n".join(lines) or "no CUDA device"

    def arch_supported(self):
        """Report torch.cuda.get_arch_list() beside the devices' capabilities. Whether the
        list covers a GPU is decided by torchup (one rule, in Rust), not here."""
        arch = [str(a) for a in (self.torch.cuda.get_arch_list() or [])]
        self.doc["arch_list"] = arch
        return True, "arch list: " + (" ".join(arch) or "(none reported)")

    def _operands(self, n):
        torch = self.torch
        torch.manual_seed(0)
        return torch.randn(n, n), torch.randn(n, n)

    def matmul(self):
        """The guide's 1000x1000 matmul on every GPU, checked against the CPU. The difference
        is taken on the GPU too, so torch's own kernels run (cuBLAS alone can hide a missing
        arch), but the verdict comes from the CPU."""
        torch = self.torch
        a, b = self._operands(MATMUL_N)
        ref = a @ b
        ok, lines = True, []
        for i in range(len(self.doc["devices"])):
            dev = "cuda:%d" % i
            try:
                ga, gb = a.to(dev), b.to(dev)
                gc = ga @ gb
                on_gpu = ((gc - ref.to(dev)).norm() / ref.to(dev).norm()).item()
                torch.cuda.synchronize(i)
                err = _rel_err(torch, gc, ref)
                if math.isfinite(err) and math.isfinite(on_gpu) and err <= MATMUL_RTOL:
                    lines.append("GPU %d: %dx%d matmul matches the CPU (relative error %.1e)" % (i, MATMUL_N, MATMUL_N, err))
                else:
                    ok = False
                    lines.append("GPU %d: %dx%d matmul differs from the CPU (relative error %.3g > %g)"
                                 % (i, MATMUL_N, MATMUL_N, err, MATMUL_RTOL))
            except Exception as exc:
                ok = False
                lines.append("GPU %d: %s" % (i, _exc_text(exc)))
        try:
            if torch.backends.cuda.matmul.allow_tf32:
                lines.append("TF32 matmul is enabled (faster, ~1e-3 relative error)")
        except Exception:
            pass
        return ok, "\n".join(lines)

    def fp16_autocast(self):
        torch = self.torch
        a, b = self._operands(256)
        ref = a @ b
        ok, lines = True, []
        for i in range(len(self.doc["devices"])):
            dev = "cuda:%d" % i
            try:
                with torch.amp.autocast("cuda"):
                    hc = a.to(dev) @ b.to(dev)
                torch.cuda.synchronize(i)
                err = _rel_err(torch, hc, ref)
                if hc.dtype != torch.float16:
                    ok = False
                    lines.append("GPU %d: autocast produced %s, not float16" % (i, hc.dtype))
                elif not (math.isfinite(err) and err <= FP16_RTOL):
                    ok = False
                    lines.append("GPU %d: float16 matmul differs from the CPU (relative error %.3g)" % (i, err))
                else:
                    lines.append("GPU %d: torch.amp.autocast('cuda') matmul in float16 (relative error %.1e)" % (i, err))
            except Exception as exc:
                ok = False
                lines.append("GPU %d: %s" % (i, _exc_text(exc)))
        return ok, "\n".join(lines)

    def cudnn_conv(self):
        torch = self.torch
        cudnn = torch.backends.cudnn
        version = _cudnn_text(cudnn.version())
        self.doc["cudnn"] = version
        if not cudnn.is_available() or not version:
            return False, "cuDNN is not available in this build"
        import torch.nn.functional as F

        torch.manual_seed(0)
        x, w = torch.randn(2, 3, 16, 16), torch.randn(8, 3, 3, 3)
        ref = F.conv2d(x, w, padding=1)
        ok, lines = True, []
        for i in range(len(self.doc["devices"])):
            dev = "cuda:%d" % i
            try:
                out = F.conv2d(x.to(dev), w.to(dev), padding=1)
                torch.cuda.synchronize(i)
                err = _rel_err(torch, out, ref)
                if math.isfinite(err) and err <= CONV_RTOL:
                    lines.append("GPU %d: conv2d matches the CPU (relative error %.1e)" % (i, err))
                else:
                    ok = False
                    lines.append("GPU %d: conv2d differs from the CPU (relative error %.3g)" % (i, err))
            except Exception as exc:
                ok = False
                lines.append("GPU %d: %s" % (i, _exc_text(exc)))
        return ok, "cuDNN %s\n%s" % (version, "\n".join(lines))

    def _gflops(self, dev, sync):
        torch = self.torch
        torch.manual_seed(0)
        x = torch.randn(BENCH_N, BENCH_N).to(dev)
        x @ x  # warm-up: cuBLAS handle, CPU thread pool
        sync()
        reps = 1
        while True:
            start = time.perf_counter()
            for _ in range(reps):
                x @ x
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= BENCH_SECONDS or reps >= BENCH_MAX_REPS:
                break
            reps = min(BENCH_MAX_REPS, reps * 4)
        if elapsed <= 0:
            return None
        return 2.0 * BENCH_N ** 3 * reps / elapsed / 1e9

    def throughput(self):
        """fp32 matmul GFLOP/s on GPU 0 and on the CPU: the real speed-up on this machine."""
        torch = self.torch
        gpu = self._gflops("cuda:0", lambda: torch.cuda.synchronize(0))
        cpu = self._gflops("cpu", lambda: None)
        self.doc["gpu_gflops"] = round(gpu, 1) if gpu else None
        self.doc["cpu_gflops"] = round(cpu, 1) if cpu else None
        if not gpu or not cpu:
            return True, "too fast to time (no measurable duration)"
        return True, "GPU 0 %.0f GFLOP/s, CPU %.0f GFLOP/s: %.1fx (fp32 %dx%d matmul)" % (
            gpu, cpu, gpu / cpu, BENCH_N, BENCH_N)


def _python_info():
    info = {
        "executable": sys.executable,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "bits": 64 if sys.maxsize > 2 ** 32 else 32,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "implementation": getattr(getattr(sys, "implementation", None), "name", "cpython"),
        "platform": None,
        "user_site": None,
    }
    try:
        import site
        import sysconfig

        info["platform"] = sysconfig.get_platform()
        # Raw facts only: torchup decides the kind of environment and whether PEP 668 applies.
        info["pyvenv_cfg"] = os.path.isfile(os.path.join(sys.prefix, "pyvenv.cfg"))
        info["conda_meta"] = os.path.isdir(os.path.join(sys.prefix, "conda-meta"))
        exe_dir = os.path.dirname(sys.executable or "")
        info["embedded"] = bool(exe_dir) and any(n.endswith("._pth") for n in os.listdir(exe_dir))
        marker = os.path.join(sysconfig.get_path("stdlib") or "", "EXTERNALLY-MANAGED")
        info["externally_managed_marker"] = os.path.isfile(marker)
        if getattr(site, "ENABLE_USER_SITE", False):
            info["user_site"] = site.getusersitepackages()
    except Exception:
        pass
    return info


def _take_stdout():
    """Keep the real stdout for the JSON document; point fd 1 at stderr and sys.stdout at a
    buffer, so nothing else (torch's prints, C libraries) can corrupt the document."""
    captured = io.StringIO()
    try:
        sys.stdout.flush()
        real = os.dup(1)
        os.dup2(2, 1)
    except Exception:
        real = None
    sys.stdout = captured
    return real, captured


def _put_stdout(real, text):
    data = (text + "\n").encode("utf-8")
    if real is None:
        sys.__stdout__.write(text + "\n")
        sys.__stdout__.flush()
        return
    while data:
        n = os.write(real, data)
        data = data[n:]


def main(argv):
    pretty = "--pretty" in argv
    real, captured = _take_stdout()
    smoke = None
    start = _now_ms()
    try:
        try:
            import faulthandler

            faulthandler.enable()  # a segfault in a CUDA call still names the Python line
        except Exception:
            pass
        smoke = Smoke("--progress" in argv)
        with warnings.catch_warnings(record=True) as recorded:
            warnings.simplefilter("always")
            smoke.recorded = recorded
            smoke.run()
    except BaseException as exc:  # never die without a document
        if smoke is None:
            smoke = Smoke(False)
        smoke.doc["checks"].append(
            {"name": "smoke_script", "ok": False, "detail": "unexpected: " + _exc_text(exc), "ms": 0.0}
        )
    doc = smoke.doc
    doc["ok"] = smoke.verdict()
    doc["total_ms"] = round(_now_ms() - start, 1)
    noise = captured.getvalue().strip()
    doc["captured_stdout"] = noise or None
    if noise and doc["import_error"] and doc["checks"] and doc["checks"][0]["name"] == "import_torch":
        doc["checks"][0]["detail"] += "\n" + noise  # torch prints its VC++ hint before a DLL error
    _put_stdout(real, json.dumps(doc, indent=2 if pretty else None, sort_keys=False))


if __name__ == "__main__":
    main(sys.argv[1:])
