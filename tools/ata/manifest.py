"""MicroPython manifest files evaluated on the host, without a MicroPython tree.

A small stand-in for the functions a manifest.py calls (metadata, package, module,
require, include, add_library, freeze, options): it runs the ATA's manifests, records
every file they would freeze or install, and reports any path that does not exist.
Paths are relative to the manifest being run, as in MicroPython's tools/manifestfile.py;
$(PORT_DIR) and $(MPY_DIR) name trees this machine does not have, so an include()
through them is recorded, not followed.

Also writes the package.json of each lib/ package from its manifest (`mpremote mip
install lib/<pkg>/package.json`, or from a URL of the repository's lib/<pkg>/).
"""
import json
import os
import pathlib

from . import paths

EXTERNAL_VARS = ("$(PORT_DIR)", "$(MPY_DIR)", "$(MPY_LIB_DIR)")


class Manifest:
    def __init__(self, board_dir=None):
        self.board_dir = str(board_dir) if board_dir else None
        self.files = {}            # target path ("sip/ua.py") -> source (absolute)
        self.metadata_of = {}      # manifest file -> metadata kwargs
        self.requires = []         # (name, library, found manifest or None)
        self.external = []         # includes / requires outside this repository
        self.missing = []          # paths named by a manifest that do not exist
        self.libraries = {}
        self._stack = []

    # -- paths ------------------------------------------------------------------
    def _here(self):
        return os.path.dirname(self._stack[-1])

    def _path(self, p):
        if self.board_dir:
            p = p.replace("$(BOARD_DIR)", self.board_dir)
        return os.path.normpath(os.path.join(self._here(), p))

    def _add(self, src, target):
        if not os.path.isfile(src):
            self.missing.append("%s (from %s)" % (src, self._stack[-1]))
            return
        self.files[target] = src

    # -- the manifest API ---------------------------------------------------------
    def metadata(self, **kw):
        self.metadata_of.setdefault(self._stack[-1], {}).update(kw)

    def include(self, path, **kw):
        if isinstance(path, (list, tuple)):
            for p in path:
                self.include(p, **kw)
            return
        if path.startswith(EXTERNAL_VARS):
            self.external.append(("include", path))
            return
        self.run(self._path(path))

    def add_library(self, library, library_path, prepend=False):
        self.libraries[library] = self._path(library_path)
        if not os.path.isdir(self.libraries[library]):
            self.missing.append("library %s: %s" % (library, self.libraries[library]))

    def require(self, name, version=None, library=None, **kw):
        roots = [self.libraries[library]] if library else list(self.libraries.values())
        for root in roots:
            for d, _, names in os.walk(root):
                if os.path.basename(d) == name and "manifest.py" in names:
                    self.requires.append((name, library, os.path.join(d, "manifest.py")))
                    self.run(os.path.join(d, "manifest.py"))
                    return
        if library:
            self.missing.append("require(%r) in library %r" % (name, library))
        else:
            self.external.append(("require", name))     # micropython-lib's index

    def package(self, package_path, files=None, base_path=".", opt=None):
        base = self._path(base_path)
        root = os.path.join(base, package_path)
        if not os.path.isdir(root):
            self.missing.append("package %s (from %s)" % (root, self._stack[-1]))
            return
        if files is None:
            files = sorted(str(p.relative_to(root)) for p in pathlib.Path(root).rglob("*.py"))
        for f in files:
            self._add(os.path.join(root, f), package_path + "/" + f)

    def module(self, module_path, base_path=".", opt=None):
        self._add(os.path.join(self._path(base_path), module_path), module_path)

    def freeze(self, path, script=None, opt=None):
        if path.startswith(EXTERNAL_VARS):
            self.external.append(("freeze", path))
            return
        root = self._path(path)
        scripts = [script] if isinstance(script, str) else script
        if scripts is None:
            scripts = [str(p.relative_to(root)) for p in pathlib.Path(root).rglob("*.py")]
        for s in scripts:
            self._add(os.path.join(root, s), s)

    # -- running ------------------------------------------------------------------
    def run(self, manifest_path):
        manifest_path = os.path.abspath(manifest_path)
        if os.path.isdir(manifest_path):
            manifest_path = os.path.join(manifest_path, "manifest.py")
        if manifest_path in self._stack:
            return self
        self._stack.append(manifest_path)
        try:
            api = {name: getattr(self, name) for name in (
                "metadata", "include", "add_library", "require", "package", "module",
                "freeze")}
            api["options"] = _Options()
            with open(manifest_path) as f:
                exec(compile(f.read(), manifest_path, "exec"), api)
        finally:
            self._stack.pop()
        return self


class _Options:
    def defaults(self, **kw):
        self.__dict__.update({k: v for k, v in kw.items() if k not in self.__dict__})

    def __getattr__(self, name):
        return None


def evaluate(path, board_dir=None):
    return Manifest(board_dir).run(path)


def packages():
    """The lib/ packages with a manifest."""
    return sorted(p.parent.name for p in (paths.ROOT / "lib").glob("*/manifest.py"))


def package_json(name):
    """package.json for lib/<name> from its manifest: files as `urls` relative to the
    package.json itself (mip resolves them against its folder or URL), `deps` from
    the packages its manifest requires."""
    m = evaluate(paths.ROOT / "lib" / name / "manifest.py")
    here = paths.ROOT / "lib" / name
    urls = [[target, os.path.relpath(src, here)] for target, src in sorted(m.files.items())]
    meta = m.metadata_of.get(str(here / "manifest.py"), {})
    out = {"urls": urls, "version": meta.get("version", "0.0.0")}
    deps = [[req, "latest"] for req, _, _ in m.requires if req != name]
    if deps:
        out["deps"] = deps
    # one file per line: readable diffs
    rows = ",\n".join("    " + json.dumps(u) for u in urls)
    text = '{\n  "urls": [\n%s\n  ],\n' % rows
    if deps:
        text += '  "deps": %s,\n' % json.dumps(deps)
    return text + '  "version": %s\n}\n' % json.dumps(out["version"])


def write_package_jsons():
    written = []
    for name in packages():
        path = paths.ROOT / "lib" / name / "package.json"
        text = package_json(name)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written
