"""Build real, pip-installable wheels of the fake torch family (torchup's test kit).

Reads one JSON document from the file named by the first argument (or stdin):
  {"source_root": ".../tests/support/fake_torch", "out_dir": "...",
   "wheels": [{"package": "torch", "version": "2.5.1", "local": "cu124" | null,
               "python_tag": "cp311", "abi_tag": "cp311", "platform_tag": "linux_x86_64",
               "requires": ["torch==2.5.1"], "requires_python": ">=3.8.0",
               "build": {...baked into <package>/_fake_build.py...}}]}
Writes one JSON list to stdout: [{"filename", "path", "sha256", "size"}].

Wheels follow the binary distribution format: <name>-<version>.dist-info with METADATA,
WHEEL and a RECORD of sha256 hashes (INSTALLER is pip's to write). Archives are
deterministic (fixed timestamps, sorted entries), so the same input gives the same bytes.
"""

import base64
import hashlib
import json
import os
import sys
import zipfile

STAMP = (2024, 11, 1, 0, 0, 0)

SUMMARIES = {
    "torch": "Tensors and Dynamic neural networks in Python with strong GPU acceleration",
    "torchvision": "image and video datasets and models for torch deep learning",
    "torchaudio": "An audio package for PyTorch",
    "xformers": "XFormers: A collection of composable Transformer building blocks.",
}


def git_hash(package, version):
    return hashlib.sha1(("%s-%s" % (package, version)).encode()).hexdigest()


def version_py(spec, full_version):
    """<package>/version.py in the shape the real wheels ship (detection reads it as text)."""
    b = spec["build"]
    pkg = spec["package"]
    git = b.get("git_version") or git_hash(pkg, spec["version"])
    if pkg == "torch":
        cuda = b.get("cuda")
        return (
            "from typing import Optional\n\n"
            "__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n"
            "__version__ = '%s'\n"
            "debug = False\n"
            "cuda: Optional[str] = %s\n"
            "git_version = '%s'\n"
            "hip: Optional[str] = None\n"
        ) % (full_version, repr(cuda) if cuda is not None else "None", git)
    if pkg == "torchvision":
        cuda = b.get("cuda")
        return (
            "__version__ = '%s'\n"
            "git_version = '%s'\n"
            "cuda = %s\n"
        ) % (full_version, git, repr(cuda) if cuda is not None else "None")
    return "__version__ = '%s'\ngit_version = '%s'\n" % (full_version, git)


def record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_one(source_root, out_dir, spec):
    pkg = spec["package"]
    version = spec["version"]
    local = spec.get("local")
    full_version = version + ("+" + local if local else "")
    tag = "%s-%s-%s" % (spec["python_tag"], spec["abi_tag"], spec["platform_tag"])
    filename = "%s-%s-%s.whl" % (pkg, full_version, tag)
    dist_info = "%s-%s.dist-info" % (pkg, full_version)

    files = {}
    src_pkg = os.path.join(source_root, pkg)
    if not os.path.isdir(src_pkg):
        raise SystemExit("wheelbuild: no fake source for package %r under %s" % (pkg, source_root))
    for dirpath, dirnames, filenames in os.walk(src_pkg):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, source_root).replace(os.sep, "/")
            with open(full, "rb") as f:
                files[rel] = f.read()
    build = dict(spec.get("build") or {})
    build.setdefault("version", full_version)
    files["%s/_fake_build.py" % pkg] = (
        "# Written by torchup's test kit (tests/support/wheelbuild.py): the simulated build.\n"
        "BUILD = %r\n" % (build,)
    ).encode()
    # version.py carries the build's version, which for PyPI-style wheels has a local label
    # the wheel's own version lacks ("2.15.0" wheel, torch.__version__ == "2.15.0+cu132").
    files["%s/version.py" % pkg] = version_py(spec, build["version"]).encode()
    # Benchmarks: incompressible bytes so pip downloads and unpacks a real wheel's bulk
    # (a CUDA torch wheel is ~2.5 GB); deterministic for the same spec.
    payload = "%s/lib/_payload.bin" % pkg
    if spec.get("payload_mib"):
        import random
        rng = random.Random(filename)
        # randbytes() takes at most 256 MiB at once: build it in 16 MiB chunks.
        files[payload] = b"".join(rng.randbytes(16 << 20) for _ in range((int(spec["payload_mib"]) + 15) // 16))

    meta = [
        "Metadata-Version: 2.1",
        "Name: %s" % pkg,
        "Version: %s" % full_version,
        "Summary: %s (stand-in built by torchup's test kit)" % SUMMARIES.get(pkg, pkg),
        "Home-page: https://pytorch.org/",
        "License: BSD-3-Clause",
    ]
    if spec.get("requires_python"):
        meta.append("Requires-Python: %s" % spec["requires_python"])
    for req in spec.get("requires") or []:
        meta.append("Requires-Dist: %s" % req)
    files["%s/METADATA" % dist_info] = ("\n".join(meta) + "\n\n").encode()
    files["%s/WHEEL" % dist_info] = (
        "Wheel-Version: 1.0\n"
        "Generator: torchup-testkit (wheelbuild.py)\n"
        "Root-Is-Purelib: false\n"
        "Tag: %s\n\n" % tag
    ).encode()
    files["%s/top_level.txt" % dist_info] = (pkg + "\n").encode()
    if pkg == "torch":
        # Like the real wheel: pip writes a `torchrun` launcher into bin/ (Scripts\ on
        # Windows) and lists it in RECORD as ../../../bin/torchrun.
        files["%s/entry_points.txt" % dist_info] = b"[console_scripts]\ntorchrun = torch.distributed.run:main\n"

    record_lines = ["%s,%s,%d" % (name, record_hash(data), len(data)) for name, data in sorted(files.items())]
    record_lines.append("%s/RECORD,," % dist_info)
    files["%s/RECORD" % dist_info] = ("\n".join(record_lines) + "\n").encode()

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, filename)
    tmp = path + ".part"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        # dist-info last, as the spec recommends
        order = sorted(n for n in files if not n.startswith(dist_info)) + sorted(
            n for n in files if n.startswith(dist_info) and not n.endswith("/RECORD")) + ["%s/RECORD" % dist_info]
        for name in order:
            info = zipfile.ZipInfo(name, date_time=STAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED if name == payload else zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    os.replace(tmp, path)
    with open(path, "rb") as f:
        data = f.read()
    return {"filename": filename, "path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def main():
    if len(sys.argv) > 1:
        with open(sys.argv[1], encoding="utf-8") as f:
            req = json.load(f)
    else:
        req = json.load(sys.stdin)
    out = [build_one(req["source_root"], req["out_dir"], spec) for spec in req["wheels"]]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
