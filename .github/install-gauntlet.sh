#!/usr/bin/env bash
# Installs a released gauntlet binary: a pinned version, checked against the
# release's SHA256SUMS (and against --sha256 when given), into a folder that
# CI can cache. Re-running with the same version and folder downloads nothing.
#
#   install-gauntlet.sh --version 0.1.0 [--dir DIR] [--base-url URL]
#                       [--target TRIPLE] [--sha256 HEX]
#   install-gauntlet.sh --print-target     # the asset triple for this machine
#
# Release assets (what .github/workflows/release.yml publishes):
#   <base-url>/v<version>/gauntlet-<version>-<triple>.tar.gz   (.zip on Windows)
#   <base-url>/v<version>/SHA256SUMS                           ("<hex>  <asset>" lines)
# Environment: GAUNTLET_VERSION, GAUNTLET_INSTALL_DIR, GAUNTLET_BASE_URL.
set -euo pipefail

version="${GAUNTLET_VERSION:-}"
dir="${GAUNTLET_INSTALL_DIR:-$HOME/.gauntlet/bin}"
base_url="${GAUNTLET_BASE_URL:-https://github.com/gauntlet-ci/gauntlet/releases/download}"
target=""
pinned_sha=""
print_target=false

die() {
  echo "install-gauntlet: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --base-url) base_url="${2:?--base-url needs a value}"; shift 2 ;;
    --target) target="${2:?--target needs a value}"; shift 2 ;;
    --sha256) pinned_sha="${2:?--sha256 needs a value}"; shift 2 ;;
    --print-target) print_target=true; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

# The release triples; keep in step with the matrix in release.yml (a test
# compares them).
detect_target() {
  local os arch
  os="$(uname -s)"
  arch="$(uname -m)"
  case "$os/$arch" in
    Linux/x86_64 | Linux/amd64) echo "x86_64-unknown-linux-musl" ;;
    Linux/aarch64 | Linux/arm64) echo "aarch64-unknown-linux-musl" ;;
    Darwin/arm64 | Darwin/aarch64) echo "aarch64-apple-darwin" ;;
    MINGW*/x86_64 | MSYS*/x86_64 | CYGWIN*/x86_64) echo "x86_64-pc-windows-msvc" ;;
    *) die "no released binary for $os/$arch: build from source with cargo install --locked" ;;
  esac
}

[ -n "$target" ] || target="$(detect_target)"
if $print_target; then
  echo "$target"
  exit 0
fi
[ -n "$version" ] || die "--version (or GAUNTLET_VERSION) is required: pin the version you tested"
version="${version#v}"

case "$target" in
  *windows*) ext="zip"; exe="gauntlet.exe" ;;
  *) ext="tar.gz"; exe="gauntlet" ;;
esac
asset="gauntlet-${version}-${target}.${ext}"
url="${base_url%/}/v${version}"

# Cached: the right version is already there.
if [ -x "$dir/$exe" ] && [ "$("$dir/$exe" --version 2>/dev/null || true)" = "gauntlet $version" ]; then
  echo "install-gauntlet: gauntlet $version already in $dir"
  exit 0
fi

fetch() {
  # fetch URL FILE: fails on any HTTP error status, saying which.
  if command -v curl >/dev/null; then
    curl --proto '=https,http' --fail --silent --show-error --location --retry 3 --output "$2" "$1" \
      || die "download failed: $1"
  elif command -v wget >/dev/null; then
    wget --quiet --tries=3 --output-document="$2" "$1" || die "download failed: $1"
  else
    die "neither curl nor wget is installed"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "neither sha256sum nor shasum is installed: cannot verify the download"
  fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fetch "$url/SHA256SUMS" "$work/SHA256SUMS"
fetch "$url/$asset" "$work/$asset"

expected="$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$work/SHA256SUMS")"
[ -n "$expected" ] || die "SHA256SUMS of v$version lists no $asset"
actual="$(sha256_of "$work/$asset")"
[ "$actual" = "$expected" ] || die "checksum mismatch for $asset: SHA256SUMS says $expected, the download is $actual"
if [ -n "$pinned_sha" ] && [ "$actual" != "$pinned_sha" ]; then
  die "checksum mismatch for $asset: --sha256 pins $pinned_sha, the download is $actual"
fi

mkdir -p "$work/unpacked"
case "$ext" in
  zip) unzip -q "$work/$asset" -d "$work/unpacked" ;;
  *) tar -xzf "$work/$asset" -C "$work/unpacked" ;;
esac
[ -f "$work/unpacked/$exe" ] || die "$asset holds no $exe"
mkdir -p "$dir"
# Into place by rename: a cache never holds a half-written binary.
cp "$work/unpacked/$exe" "$dir/.$exe.partial"
chmod +x "$dir/.$exe.partial"
mv -f "$dir/.$exe.partial" "$dir/$exe"
echo "install-gauntlet: installed gauntlet $version ($target) into $dir"
