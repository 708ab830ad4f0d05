"""onnxruntime-web: the browser runtime a web export ships, pinned and verified.

gankit's wheel does not carry the runtime (about 14 MB of WebAssembly) and gankit never
downloads it itself. A web export copies three files of the npm package
``onnxruntime-web`` at :data:`VERSION` from a local source:

* a folder holding them (or its ``dist/`` or ``package/dist/``), such as the one
  ``scripts/fetch-ort-web.sh`` fills, or
* the package's tarball as ``npm pack onnxruntime-web@VERSION`` writes it.

Every file is checked against the SHA-256 below before it is copied, and a tarball
against the registry's ``dist.integrity`` (SHA-512), so a wrong version or a damaged
download is refused with one line saying how to get the right one. Nothing here
imports torch.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
from pathlib import Path

from ..errors import GankitError

VERSION = "1.30.0"
#: ``npm view onnxruntime-web@1.30.0 dist.integrity``
INTEGRITY = ("sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1Sig"
             "qR4CXAfKYQ==")
TARBALL = f"onnxruntime-web-{VERSION}.tgz"
#: the files the page loads (the WebAssembly build without WebGPU/WebGL), with their SHA-256
FILES = {
    "ort.wasm.min.js": "faece07e84faa9001f5104bbe4e5c70861d06cb2376a0dea1fa0ad33a67adc81",
    "ort-wasm-simd-threaded.mjs": "e13f7f94fc51b4ca72b12faeb1ee95f4ace6dfbc8939bc718aabdc0a27c4299b",
    "ort-wasm-simd-threaded.wasm": "3398c10d07d229bd91b364548e130e0e51a8e5704b88c7c083ebbeb78842dee2",
}
ENV = "GANKIT_ORT_WEB"
LICENSE_NOTE = (
    f"onnxruntime-web {VERSION} (https://www.npmjs.com/package/onnxruntime-web), "
    "Copyright (c) Microsoft Corporation, MIT License.\n"
    "Files: " + ", ".join(FILES) + " from the package's dist/ folder, unmodified.\n"
)


def default_dir() -> Path:
    """Where ``scripts/fetch-ort-web.sh`` puts the files and exports look for them:
    ``$GANKIT_ORT_WEB``, else ``$XDG_CACHE_HOME/gankit/onnxruntime-web-VERSION``
    (``~/.cache/...``)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "gankit" / f"onnxruntime-web-{VERSION}"


def how_to_get() -> str:
    return (f"get onnxruntime-web {VERSION} with `bash scripts/fetch-ort-web.sh` (gankit's "
            f"source) or `npm pack onnxruntime-web@{VERSION}` and pass the folder or the "
            f"{TARBALL} with --ort-dir")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def integrity(data: bytes) -> str:
    """npm's ``dist.integrity`` of a tarball: ``sha512-`` and the base64 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _from_tarball(path: Path) -> dict[str, bytes]:
    data = path.read_bytes()
    if integrity(data) != INTEGRITY:
        raise GankitError(f"--ort-dir {path}: not the onnxruntime-web {VERSION} tarball (its "
                          f"sha512 differs from the registry's); {how_to_get()}")
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name in FILES:
            member = tar.getmember(f"package/dist/{name}")
            out[name] = tar.extractfile(member).read()
    return out


def _folder(path: Path) -> Path | None:
    for d in (path, path / "dist", path / "package" / "dist"):
        if all((d / n).is_file() for n in FILES):
            return d
    return None


def load(source: Path | str | None = None) -> dict[str, bytes]:
    """The runtime's files (name -> bytes), verified, from ``source`` (a folder or the npm
    tarball) or :func:`default_dir`. A GankitError says what is missing or wrong."""
    flag = "--ort-dir"
    if source is None:
        path = default_dir()
        if (path / TARBALL).is_file() and _folder(path) is None:
            path = path / TARBALL
        flag = f"onnxruntime-web {VERSION}: {path}"
    else:
        path = Path(source).expanduser()
        flag = f"--ort-dir {path}"
    if path.is_file():
        if not path.name.endswith((".tgz", ".tar.gz")):
            raise GankitError(f"{flag}: expected a folder or the {TARBALL} tarball")
        try:
            return _from_tarball(path)
        except (tarfile.TarError, KeyError, OSError) as exc:
            raise GankitError(f"{flag}: cannot read the tarball ({exc}); {how_to_get()}") from None
    folder = _folder(path) if path.is_dir() else None
    if folder is None:
        what = "no such folder" if not path.exists() else f"no {', '.join(FILES)} in it"
        raise GankitError(f"{flag}: {what}; {how_to_get()}")
    out = {}
    for name, want in FILES.items():
        data = (folder / name).read_bytes()
        if sha256(data) != want:
            raise GankitError(f"{flag}: {name} is not the one of onnxruntime-web {VERSION} "
                              f"(SHA-256 differs); {how_to_get()}")
        out[name] = data
    return out
