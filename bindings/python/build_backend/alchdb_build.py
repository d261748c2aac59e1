"""A PEP 517 build backend with no requirements, so that
`pip install --no-index ./bindings/python` works without a network: pip's
build isolation hides the system's setuptools, and an index is the only place
it could fetch one from. The package is pure Python (ctypes), so building it
is zipping the alchdb/ folder with the metadata a wheel needs (PEP 427)."""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

NAME = "alchdb"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8") as _f:
    VERSION = re.search(r'^version = "([^"]+)"', _f.read(), re.M).group(1)
TAG = "py3-none-any"

METADATA = """Metadata-Version: 2.1
Name: {name}
Version: {version}
Summary: Python bindings (ctypes) for libalchdb: a pooled, routed, cached and monitored PostgreSQL client
License: MIT
Requires-Python: >=3.9
""".format(name=NAME, version=VERSION)

WHEEL = """Wheel-Version: 1.0
Generator: alchdb_build
Root-Is-Purelib: true
Tag: {tag}
""".format(tag=TAG)


def _package_files():
    root = os.path.join(HERE, NAME)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            if f.endswith((".py", ".typed")):
                full = os.path.join(dirpath, f)
                yield full, os.path.relpath(full, HERE).replace(os.sep, "/")


def _digest(data):
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "sha256=" + h


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def _write_wheel(wheel_directory, entries):
    dist_info = "%s-%s.dist-info" % (NAME, VERSION)
    name = "%s-%s-%s.whl" % (NAME, VERSION, TAG)
    entries = list(entries) + [(dist_info + "/METADATA", METADATA.encode()),
                               (dist_info + "/WHEEL", WHEEL.encode()),
                               (dist_info + "/top_level.txt", (NAME + "\n").encode())]
    record = "".join("%s,%s,%d\n" % (arc, _digest(data), len(data)) for arc, data in entries)
    record += dist_info + "/RECORD,,\n"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in entries:
            z.writestr(arc, data)
        z.writestr(dist_info + "/RECORD", record)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = []
    for full, arc in _package_files():
        with open(full, "rb") as f:
            entries.append((arc, f.read()))
    return _write_wheel(wheel_directory, entries)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth file puts the source folder on sys.path (PEP 660).
    return _write_wheel(wheel_directory, [(NAME + "_editable.pth", (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, VERSION)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ["pyproject.toml", "README.md", "build_backend/alchdb_build.py"]:
            t.add(os.path.join(HERE, rel), base + "/" + rel)
        for full, arc in _package_files():
            t.add(full, base + "/" + arc)
        info = tarfile.TarInfo(base + "/PKG-INFO")
        data = METADATA.encode()
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return name
