#!/usr/bin/env bash
# onnxruntime-web's browser runtime for `gankit export --format web` and its browser test.
# Fetches the npm package at the version gankit pins (gankit/export/ortweb.py) with
# `npm pack`, checks the tarball's sha512 against the registry's dist.integrity and the
# value pinned in gankit, and unpacks the three files the page loads into DEST
# (default: $GANKIT_ORT_WEB, else ~/.cache/gankit/onnxruntime-web-VERSION), where
# gankit checks each file's SHA-256 again before copying it into an export.
# Needs npm and gankit importable by `python` (the active virtualenv).
set -euo pipefail
read -r VERSION PINNED DEFAULT_DEST < <(python -c '
from gankit.export import ortweb
print(ortweb.VERSION, ortweb.INTEGRITY, ortweb.default_dir())')
DEST="${1:-$DEFAULT_DEST}"
FILES="ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm"

have_all() { for f in $FILES; do [ -f "$DEST/$f" ] || return 1; done; }
if have_all && python - "$DEST" <<'PY'
import sys
from gankit.export import ortweb
ortweb.load(sys.argv[1])
PY
then
  echo "fetch-ort-web: onnxruntime-web $VERSION is already in $DEST"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-ort-web: npm is not installed (Debian: apt-get install -y npm)" >&2
  exit 1
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
( cd "$TMP" && npm pack --silent "onnxruntime-web@$VERSION" >/dev/null )
TARBALL="$TMP/onnxruntime-web-$VERSION.tgz"
REGISTRY="$(npm view "onnxruntime-web@$VERSION" dist.integrity)"
ACTUAL="$(python -c 'import sys; from gankit.export import ortweb
print(ortweb.integrity(open(sys.argv[1], "rb").read()))' "$TARBALL")"
if [ "$ACTUAL" != "$REGISTRY" ] || [ "$ACTUAL" != "$PINNED" ]; then
  echo "fetch-ort-web: onnxruntime-web-$VERSION.tgz does not match (got $ACTUAL, registry" \
       "$REGISTRY, gankit pins $PINNED); not installed" >&2
  exit 1
fi
mkdir -p "$TMP/x" "$DEST"
tar -xzf "$TARBALL" -C "$TMP/x" package/package.json $(for f in $FILES; do echo "package/dist/$f"; done)
for f in $FILES; do cp "$TMP/x/package/dist/$f" "$DEST/$f.part" && mv "$DEST/$f.part" "$DEST/$f"; done
cp "$TMP/x/package/package.json" "$DEST/package.json"
python - "$DEST" <<'PY'
import sys
from gankit.export import ortweb
ortweb.load(sys.argv[1])  # each file's SHA-256 as gankit pins it
PY
echo "fetch-ort-web: onnxruntime-web $VERSION -> $DEST ($(du -sh "$DEST" | cut -f1))"
