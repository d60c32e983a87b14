#!/usr/bin/env python3
"""Check a torchup wheel without installing it: tags, contents, RECORD hashes, metadata,
and what the binary links against.

  check_wheel.py WHEEL [--tag TAG] [--objdump PROG] [--max-glibc X.Y] [--goal-mb N]

- the file name, the WHEEL file's Tag lines and --tag agree (e.g. py3-none-win_amd64);
- it holds torchup-<v>.data/scripts/torchup[.exe] (executable bit on Unix wheels), the
  `python -m torchup` shim (torchup/__init__.py, torchup/__main__.py) and a dist-info whose
  METADATA names torchup <v> with a Markdown long description;
- every RECORD hash matches;
- a Windows binary (PE) imports system DLLs only: no mingw runtime (libgcc_s_seh-1.dll,
  libwinpthread-1.dll, libstdc++-6.dll) nor the VC++ runtime a user may lack;
- a Linux binary (ELF) needs only manylinux libraries and, with --max-glibc, no GLIBC symbol
  version above it (2.17 for manylinux2014).
Prints one line per check and the sizes; exits 1 on the first failed check.
"""

import argparse
import base64
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile

# DLLs every supported Windows (10/11) has. Anything else must ship with the program.
WINDOWS_SYSTEM_DLLS = {
    "advapi32.dll", "bcrypt.dll", "bcryptprimitives.dll", "cfgmgr32.dll", "combase.dll", "comctl32.dll",
    "comdlg32.dll", "crypt32.dll", "dbghelp.dll", "dnsapi.dll", "gdi32.dll", "imm32.dll",
    "iphlpapi.dll", "kernel32.dll", "kernelbase.dll", "ktmw32.dll", "msvcrt.dll", "mswsock.dll", "ncrypt.dll",
    "netapi32.dll", "ntdll.dll", "ole32.dll", "oleaut32.dll", "pdh.dll", "powrprof.dll",
    "psapi.dll", "rpcrt4.dll", "secur32.dll", "setupapi.dll", "shell32.dll", "shlwapi.dll",
    "ucrtbase.dll", "user32.dll", "userenv.dll", "version.dll", "winhttp.dll", "wininet.dll",
    "winmm.dll", "ws2_32.dll", "wtsapi32.dll",
}
# Libraries the manylinux policies allow a wheel to need from the system.
MANYLINUX_LIBS = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libgcc_s.so.1",
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libutil.so.1", "libresolv.so.2",
}


class CheckFailed(Exception):
    pass


def ok(msg):
    print("  ok   " + msg)


def require(cond, msg):
    if not cond:
        raise CheckFailed(msg)
    ok(msg)


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def parse_headers(text):
    headers = {}
    for line in text.split("\n"):
        if not line.strip():
            break  # the body (long description) follows the first blank line
        if ":" in line and not line.startswith((" ", "\t")):
            k, v = line.split(":", 1)
            headers.setdefault(k.strip(), []).append(v.strip())
    return headers


def dll_imports(objdump, path):
    out = subprocess.run([objdump, "-p", path], capture_output=True, text=True, check=True).stdout
    return sorted({m.lower() for m in re.findall(r"DLL Name:\s*(\S+)", out)})


def elf_needs(objdump, path):
    p = subprocess.run([objdump, "-p", path], capture_output=True, text=True, check=True).stdout
    needed = sorted(set(re.findall(r"^\s*NEEDED\s+(\S+)", p, re.M)))
    t = subprocess.run([objdump, "-T", path], capture_output=True, text=True, check=True).stdout
    glibc = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", t)}
    return needed, (max(glibc) if glibc else None)


def check(args):
    wheel = args.wheel
    name = os.path.basename(wheel)
    m = re.match(r"^torchup-([^-]+)-py3-none-(.+)\.whl$", name)
    require(m is not None, "file name %s is torchup-<version>-py3-none-<platform>.whl" % name)
    version = m.group(1)
    # A compressed tag set: manylinux2014_x86_64.manylinux_2_17_x86_64 is two tags.
    file_tags = sorted("py3-none-" + p for p in m.group(2).split("."))
    if args.tag:
        require(args.tag in file_tags, "tags %s include %s" % (", ".join(file_tags), args.tag))
    windows = any("win" in t for t in file_tags)
    exe = "torchup.exe" if windows else "torchup"

    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        dist_info = "torchup-%s.dist-info" % version
        script = "torchup-%s.data/scripts/%s" % (version, exe)
        for required in [script, "torchup/__init__.py", "torchup/__main__.py",
                         dist_info + "/METADATA", dist_info + "/WHEEL", dist_info + "/RECORD"]:
            require(required in names, "contains " + required)
        wheel_meta = parse_headers(z.read(dist_info + "/WHEEL").decode())
        require(sorted(wheel_meta.get("Tag", [])) == file_tags,
                "WHEEL Tag lines %s match the file name" % ", ".join(wheel_meta.get("Tag", [])))
        require(wheel_meta.get("Root-Is-Purelib") == ["false"], "Root-Is-Purelib: false (platform wheel)")
        meta_text = z.read(dist_info + "/METADATA").decode()
        meta = parse_headers(meta_text)
        require(meta.get("Name") == ["torchup"] and meta.get("Version") == [version],
                "METADATA names torchup %s" % version)
        content_type = (meta.get("Description-Content-Type") or [""])[0]
        require(content_type.startswith("text/markdown") and "# torchup" in meta_text,
                "METADATA carries the README as a Markdown long description")
        require(bool(meta.get("Requires-Python")), "Requires-Python %s" % meta.get("Requires-Python"))
        if not windows:
            mode = (z.getinfo(script).external_attr >> 16) & 0o777
            require(mode & 0o111 != 0, "%s is executable (mode %o)" % (script, mode))

        # RECORD: every file listed with a matching hash and size (RECORD itself excepted).
        record = z.read(dist_info + "/RECORD").decode().splitlines()
        listed = set()
        for row in record:
            if not row.strip():
                continue
            path, digest, size = row.rsplit(",", 2)
            listed.add(path)
            if path.endswith("/RECORD"):
                continue
            data = z.read(path)
            if digest != record_hash(data) or int(size) != len(data):
                raise CheckFailed("RECORD hash or size of %s does not match" % path)
        missing = sorted(n for n in names if n not in listed and not n.endswith("/"))
        require(not missing, "RECORD lists every file and every hash matches (%d files)" % len(listed))

        binary_size = z.getinfo(script).file_size
        with tempfile.TemporaryDirectory() as tmp:
            path = z.extract(script, tmp)
            with open(path, "rb") as f:
                magic = f.read(4)
            if windows:
                require(magic[:2] == b"MZ", "%s is a Windows executable (PE)" % exe)
                if args.objdump:
                    dlls = dll_imports(args.objdump, path)
                    foreign = [d for d in dlls if d not in WINDOWS_SYSTEM_DLLS
                               and not d.startswith(("api-ms-win-", "ext-ms-"))]
                    require(not foreign, "imports system DLLs only (%s); not shipped: %s"
                            % (", ".join(dlls), ", ".join(foreign) or "none"))
            else:
                require(magic == b"\x7fELF", "%s is an ELF executable" % exe)
                if args.objdump:
                    needed, glibc = elf_needs(args.objdump, path)
                    foreign = [n for n in needed if n not in MANYLINUX_LIBS]
                    require(not foreign, "needs manylinux libraries only (%s)" % ", ".join(needed))
                    if args.max_glibc:
                        limit = tuple(int(x) for x in args.max_glibc.split("."))
                        shown = ".".join(map(str, glibc)) if glibc else "none"
                        require(glibc is None or glibc <= limit,
                                "newest GLIBC symbol version %s <= %s" % (shown, args.max_glibc))

    wheel_mb = os.path.getsize(wheel) / 1e6
    line = "  size %s: wheel %.1f MB, %s %.1f MB uncompressed" % (name, wheel_mb, exe, binary_size / 1e6)
    if args.goal_mb:
        line += " (goal <= %s MB: %s)" % (args.goal_mb, "met" if wheel_mb <= args.goal_mb else "OVER")
    print(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("wheel")
    ap.add_argument("--tag", help="expected tag, e.g. py3-none-win_amd64")
    ap.add_argument("--objdump", help="objdump for the binary's imports (x86_64-w64-mingw32-objdump, objdump)")
    ap.add_argument("--max-glibc", help="newest GLIBC symbol version allowed (2.17 for manylinux2014)")
    ap.add_argument("--goal-mb", type=float, help="size goal per wheel, reported (not enforced)")
    args = ap.parse_args()
    print("check_wheel: " + args.wheel)
    try:
        check(args)
    except CheckFailed as e:
        print("  FAIL " + str(e))
        return 1
    except (zipfile.BadZipFile, KeyError, OSError, subprocess.CalledProcessError) as e:
        print("  FAIL cannot read %s: %s" % (args.wheel, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
