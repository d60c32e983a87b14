# torchup's Python probe. Embedded in the torchup binary and run by the target
# interpreter as `python -I -B -c <this file> <context-json>`. It prints exactly one line
# starting with "TORCHUP_PROBE " followed by a JSON document, and never imports torch
# (importing torch costs seconds): torch's build is read from torch/version.py as text.
#
# Written for Python 3.4+ syntax (no f-strings, no annotations) so that an old
# interpreter still reports its version instead of a SyntaxError.
#
# -I hides PYTHONPATH, PYTHONNOUSERSITE and the user site from this process, so torchup
# passes what it needs explicitly in argv[1] (a JSON object):
#   {"pythonpath": "<PYTHONPATH or null>", "nousersite": <bool>}

import os
import sys

PROBE_SCHEMA = 1
MARKER = "TORCHUP_PROBE "
FAMILY = ("torch", "torchvision", "torchaudio", "xformers")

report = {"probe": PROBE_SCHEMA, "errors": []}


def note_error(where, exc):
    report["errors"].append("%s: %s: %s" % (where, type(exc).__name__, exc))


def normalize(name):
    # PEP 503 name normalization.
    out = []
    prev_sep = False
    for ch in name.strip().lower():
        if ch in "-_.":
            if not prev_sep:
                out.append("-")
            prev_sep = True
        else:
            out.append(ch)
            prev_sep = False
    return "".join(out)


def read_text(path, limit=None):
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        return f.read() if limit is None else f.read(limit)


def header_lines(path):
    """The RFC 822 header block of METADATA / PKG-INFO (the body can be long)."""
    lines = []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line in ("\n", "\r\n"):
                break
            lines.append(line.rstrip("\r\n"))
    return lines


def requirement_name(req):
    name = []
    for ch in req.strip():
        if ch.isalnum() or ch in "-_.":
            name.append(ch)
        else:
            break
    return normalize("".join(name))


def hard_requirement(req):
    """True unless the requirement only applies to an extra (`; extra == "torch"`)."""
    if ";" not in req:
        return True
    marker = req.split(";", 1)[1]
    return "extra" not in marker


def scan_dists(entries):
    """Installed distributions in import order: the first of a name wins, as in
    importlib.metadata. Reading the header block directly is ~20x faster than
    importlib.metadata on a 100-package env, and works on Python < 3.8."""
    dists = {}
    for entry in entries:
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for fname in names:
            if fname.endswith(".dist-info"):
                meta = os.path.join(entry, fname, "METADATA")
                req_file = None
            elif fname.endswith(".egg-info"):
                base = os.path.join(entry, fname)
                meta = os.path.join(base, "PKG-INFO") if os.path.isdir(base) else base
                req_file = os.path.join(base, "requires.txt") if os.path.isdir(base) else None
            else:
                continue
            try:
                headers = header_lines(meta)
            except OSError:
                continue
            name = version = None
            requires = []
            for line in headers:
                key, sep, value = line.partition(":")
                if not sep:
                    continue
                key = key.strip().lower()
                value = value.strip()
                if key == "name" and name is None:
                    name = value
                elif key == "version" and version is None:
                    version = value
                elif key == "requires-dist":
                    requires.append(value)
            if req_file is not None:
                try:
                    section = None
                    for line in read_text(req_file).splitlines():
                        line = line.strip()
                        if line.startswith("["):
                            section = line
                        elif line and section is None:
                            requires.append(line)
                except OSError:
                    pass
            if not name:
                continue
            key = normalize(name)
            if key in dists:
                continue
            dists[key] = {
                "name": name,
                "version": version,
                "requires": requires,
                "path": os.path.join(entry, fname),
                "dir": entry,
            }
    return dists


def installer_of(dist):
    path = os.path.join(dist["path"], "INSTALLER")
    try:
        value = read_text(path, 200).strip()
        return value or None
    except OSError:
        return None


def literal_assignments(text):
    """Top-level `name = <literal>` and `name: T = <literal>` in a module's source.
    Raises SyntaxError/ValueError on a file that is not valid Python."""
    import ast

    tree = ast.parse(text)
    values = {}
    for node in tree.body:
        targets = []
        value = None
        if isinstance(node, ast.Assign):
            targets = [t for t in node.targets if isinstance(t, ast.Name)]
            value = node.value
        elif getattr(ast, "AnnAssign", None) is not None and isinstance(node, ast.AnnAssign):
            if isinstance(node.target, ast.Name) and node.value is not None:
                targets = [node.target]
                value = node.value
        if not targets:
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError):
            continue
        for t in targets:
            values[t.id] = literal
    return values


def package_dir(name, entries):
    """The directory `import name` would load, without importing it."""
    try:
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            for loc in spec.submodule_search_locations:
                return loc
        if spec is not None and spec.origin and spec.origin not in ("namespace", "built-in"):
            return os.path.dirname(spec.origin)
        return None
    except Exception as exc:  # a broken package must not stop the probe
        note_error("find_spec(%s)" % name, exc)
    for entry in entries:
        candidate = os.path.join(entry, name)
        if os.path.isfile(os.path.join(candidate, "__init__.py")):
            return candidate
    return None


def version_py(pkg_dir):
    """(values, error) from <pkg>/version.py."""
    if pkg_dir is None:
        return None, None
    path = os.path.join(pkg_dir, "version.py")
    if not os.path.isfile(path):
        return None, "no version.py in %s" % pkg_dir
    try:
        values = literal_assignments(read_text(path))
    except Exception as exc:
        return None, "%s is not valid Python (%s: %s)" % (path, type(exc).__name__, exc)
    return values, None


def as_str(value):
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return str(value)


def family_member(name, dists, entries):
    dist = dists.get(name)
    pkg = package_dir(name, entries)
    if dist is None and pkg is None:
        return None
    values, err = version_py(pkg)
    info = {
        "dist_version": dist["version"] if dist else None,
        "installer": installer_of(dist) if dist else None,
        "location": os.path.dirname(pkg) if pkg else (dist["dir"] if dist else None),
        "version_py_error": err,
        "version": None,
    }
    if values is not None:
        info["version"] = as_str(values.get("__version__"))
        if name == "torch":
            info["cuda"] = as_str(values.get("cuda"))
            info["hip"] = as_str(values.get("hip"))
            info["git_version"] = as_str(values.get("git_version"))
    if info["version"] is None:
        info["version"] = info["dist_version"]
    return info


def shadowing_in(directory, label):
    """torch-family packages in a directory that would be imported before the env's."""
    found = []
    if not directory or not os.path.isdir(directory):
        return found
    dists = scan_dists([directory])
    for name in FAMILY:
        dist = dists.get(name)
        if dist is not None:
            found.append("%s %s in %s (%s)" % (name, dist["version"], directory, label))
        elif os.path.isfile(os.path.join(directory, name, "__init__.py")):
            found.append("%s in %s (%s)" % (name, directory, label))
    return found


def main():
    context = {}
    if len(sys.argv) > 1:
        try:
            import json as _json

            context = _json.loads(sys.argv[1])
        except Exception as exc:
            note_error("context", exc)

    import sysconfig

    report["executable"] = sys.executable
    report["realpath"] = os.path.realpath(sys.executable) if sys.executable else None
    vi = sys.version_info
    report["version"] = "%d.%d.%d" % (vi[0], vi[1], vi[2])
    report["version_info"] = [vi[0], vi[1], vi[2], vi[3], vi[4]]
    report["bits"] = 64 if sys.maxsize > 2**32 else 32
    report["implementation"] = sys.implementation.name
    report["platform"] = sysconfig.get_platform()
    report["soabi"] = sysconfig.get_config_var("SOABI")
    report["gil_disabled"] = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    report["prefix"] = sys.prefix
    report["base_prefix"] = getattr(sys, "base_prefix", sys.prefix)
    pyvenv_cfg = os.path.join(sys.prefix, "pyvenv.cfg")
    report["pyvenv_cfg"] = os.path.isfile(pyvenv_cfg)
    report["conda_meta"] = os.path.isdir(os.path.join(sys.prefix, "conda-meta"))
    # Only for reading the user site below (site.py's own view); the kind of environment
    # is decided by torchup from the facts reported here.
    in_venv = report["prefix"] != report["base_prefix"] or report["pyvenv_cfg"]
    system_site = None
    if report["pyvenv_cfg"]:
        try:
            for line in read_text(pyvenv_cfg).splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip().lower() == "include-system-site-packages":
                    system_site = value.strip().lower() == "true"
        except OSError as exc:
            note_error("pyvenv.cfg", exc)
    report["system_site_packages"] = system_site
    exe_dir = os.path.dirname(sys.executable or "")
    try:
        report["embedded"] = any(n.endswith("._pth") for n in os.listdir(exe_dir)) if exe_dir else False
    except OSError:
        report["embedded"] = False

    stdlib = sysconfig.get_path("stdlib")
    report["stdlib"] = stdlib
    report["purelib"] = sysconfig.get_path("purelib")
    marker = os.path.join(stdlib, "EXTERNALLY-MANAGED") if stdlib else None
    has_marker = bool(marker) and os.path.isfile(marker)
    # Only the fact: torchup decides whether PEP 668 applies (not inside a venv).
    report["externally_managed_marker"] = marker if has_marker else None

    entries = [p for p in sys.path if p and os.path.isdir(p)]
    report["sys_path"] = entries
    dists = scan_dists(entries)
    report["dist_count"] = len(dists)
    pip = dists.get("pip")
    report["pip"] = pip["version"] if pip else None
    report["uv_in_env"] = "uv" in dists

    for name in FAMILY:
        try:
            report[name] = family_member(name, dists, entries)
        except Exception as exc:
            note_error(name, exc)
            report[name] = None

    dependents = []
    for key in sorted(dists):
        if key == "torch":
            continue
        dist = dists[key]
        for req in dist["requires"]:
            if requirement_name(req) == "torch" and hard_requirement(req):
                dependents.append("%s %s (%s)" % (dist["name"], dist["version"], req.split(";", 1)[0].strip()))
                break
    report["dependents"] = dependents

    # F06: -I hid the user site from us; find out whether it is active for a normal run.
    user = {"path": None, "active": False, "shadowing": []}
    try:
        import site

        user["path"] = site.getusersitepackages()
        nousersite = bool(context.get("nousersite"))
        venv_hides_user_site = in_venv and not system_site
        user["active"] = not nousersite and not venv_hides_user_site
        if user["active"]:
            user["shadowing"] = shadowing_in(user["path"], "user site")
    except Exception as exc:
        note_error("user site", exc)
    report["user_site"] = user

    pythonpath = context.get("pythonpath") or ""
    shadow = []
    for entry in pythonpath.split(os.pathsep):
        if entry:
            shadow.extend(shadowing_in(entry, "PYTHONPATH"))
    report["pythonpath_shadowing"] = shadow


try:
    main()
except Exception as exc:  # still print a document: torchup reports what it got
    note_error("probe", exc)

try:
    import json

    line = MARKER + json.dumps(report, ensure_ascii=True, sort_keys=True)
except Exception as exc:
    line = MARKER + '{"probe": %d, "errors": ["json: %s"]}' % (PROBE_SCHEMA, type(exc).__name__)
sys.stdout.write(line + "\n")
sys.stdout.flush()
