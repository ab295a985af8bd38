#!/usr/bin/env bash
# Builds the rlhf-stream native bridge against this host's PyTorch and installs it where DJL
# loads its PyTorch JNI library. One command:
#
#   native/build-bridge.sh                      # PyTorch from `python3 -c 'import torch'`
#   native/build-bridge.sh --torch DIR          # a torch package folder or a libtorch folder
#                                               # (anything with include/ and lib/libtorch.so)
# Options:
#   --python PY        the Python that has torch (default: python3)
#   --home DIR         where the manifest and DJL cache go (default: $RLHF_BRIDGE_HOME or ~/.rlhf-stream)
#   --flavor F         DJL's flavor name, e.g. cu130 or cpu (default: from the torch build)
#   --jni DIR          folder with jni.h (default: from JAVA_HOME or the javac on PATH)
#   --jobs N           parallel compiles (default: number of cores)
#   --cxx CXX          C++ compiler (default: $CXX or g++)
#
# It writes DIR/bridge.properties (read by the rlhf commands: `rlhf doctor` shows it) and prints
# the environment that makes any DJL program use the bridge.
set -euo pipefail

# Everything runs inside main, which bash reads whole before running it (so editing this file
# during a build does not disturb the build).
main() {

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
torch_dir=""
python="${PYTHON:-python3}"
home="${RLHF_BRIDGE_HOME:-$HOME/.rlhf-stream}"
flavor=""
jni_dir=""
jobs="$(nproc 2>/dev/null || echo 2)"
cxx="${CXX:-g++}"

die() { echo "build-bridge: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --torch) torch_dir="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --home) home="$2"; shift 2 ;;
    --flavor) flavor="$2"; shift 2 ;;
    --jni) jni_dir="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --cxx) cxx="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done

# ---- find PyTorch ---------------------------------------------------------------------------------
torch_version=""
cuda_version=""
abi=""
if [ -z "$torch_dir" ]; then
  command -v "$python" >/dev/null || die "no $python on PATH: give --torch DIR (a libtorch folder) or --python PY"
  info="$("$python" -c 'import os, torch
print(os.path.dirname(torch.__file__))
print(torch.__version__)
print(torch.version.cuda or "")
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null)" || die "$python cannot import torch: install PyTorch (pip install torch) or give --torch DIR"
  torch_dir="$(sed -n 1p <<<"$info")"
  torch_version="$(sed -n 2p <<<"$info")"
  cuda_version="$(sed -n 3p <<<"$info")"
  abi="$(sed -n 4p <<<"$info")"
fi
torch_dir="$(cd "$torch_dir" && pwd)"
inc="$torch_dir/include"
lib="$torch_dir/lib"
[ -f "$lib/libtorch.so" ] || die "$lib/libtorch.so not found: is $torch_dir a torch package or libtorch folder?"
[ -f "$inc/torch/csrc/api/include/torch/version.h" ] || die "PyTorch headers not found under $inc (a pip wheel or libtorch has them)"

if [ -z "$torch_version" ]; then
  # torch/version.h holds the numbers, or (2.9+) includes torch/headeronly/version.h that does.
  vh="$inc/torch/csrc/api/include/torch/version.h"
  [ -f "$inc/torch/headeronly/version.h" ] && vh="$inc/torch/headeronly/version.h"
  field() { sed -n "s/^#define TORCH_VERSION_$1 \\([0-9]*\\).*/\\1/p" "$vh" | head -1; }
  torch_version="$(field MAJOR).$(field MINOR).$(field PATCH)"
  [[ "$torch_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the PyTorch version from $vh"
  [ -f "$torch_dir/build-version" ] && torch_version="$(cat "$torch_dir/build-version")"
fi
if [ -z "$abi" ]; then
  # Libraries built with the C++11 ABI export std::__cxx11 symbols.
  if [ "$(nm -D --defined-only "$lib/libc10.so" 2>/dev/null | grep -c '__cxx11')" -gt 0 ]; then abi=1; else abi=0; fi
fi
has_cuda=0
[ -f "$lib/libtorch_cuda.so" ] && has_cuda=1
# DJL's folder names: the plain version (2.11.0) and a flavor (cu130, cpu).
plain_version="$(sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+).*/\1/' <<<"$torch_version")"
if [ -z "$flavor" ]; then
  if [[ "$torch_version" == *+cu* ]]; then
    flavor="${torch_version##*+}"
  elif [ "$has_cuda" = 1 ] && [ -n "$cuda_version" ]; then
    flavor="cu$(tr -d . <<<"$cuda_version")"
  elif [ "$has_cuda" = 1 ]; then
    die "a CUDA build of PyTorch whose CUDA version is unknown: give --flavor cuXYZ"
  else
    flavor="cpu"
  fi
fi

# ---- find jni.h -----------------------------------------------------------------------------------
if [ -z "$jni_dir" ]; then
  for candidate in "${JAVA_HOME:-}/include" \
      "$(dirname "$(dirname "$(readlink -f "$(command -v javac 2>/dev/null || echo /nonexistent)")")")/include"; do
    if [ -f "$candidate/jni.h" ]; then jni_dir="$candidate"; break; fi
  done
fi
[ -n "$jni_dir" ] && [ -f "$jni_dir/jni.h" ] || die "jni.h not found: set JAVA_HOME to a JDK or give --jni DIR"
jni_md="$jni_dir/linux"
[ -f "$jni_md/jni_md.h" ] || jni_md="$jni_dir"

djl_version="$(sed -n 's:.*<djl.version>\(.*\)</djl.version>.*:\1:p' "$root/pom.xml" | head -1)"
[ -n "$djl_version" ] || die "cannot read djl.version from $root/pom.xml"

# Features that depend on the PyTorch version, probed from its headers.
defines=(-D_GLIBCXX_USE_CXX11_ABI="$abi" -DRLHF_ACCELERATOR_MEMORY=0)
if grep -qs 'getDeviceStats' "$inc/ATen/DeviceAccelerator.h"; then
  defines=(-D_GLIBCXX_USE_CXX11_ABI="$abi" -DRLHF_ACCELERATOR_MEMORY=1)
fi
libs=(-ltorch -ltorch_cpu -lc10)
if [ "$has_cuda" = 1 ]; then
  libs+=(-ltorch_cuda -lc10_cuda)
fi

echo "build-bridge: PyTorch $torch_version ($flavor, C++11 ABI $abi) at $torch_dir"
build="$root/native/build/$plain_version-$flavor"
mkdir -p "$build"
# PyTorch 2.10+ headers are written for C++20; older ones for C++17.
std=c++17
major="${plain_version%%.*}"; minor="$(cut -d. -f2 <<<"$plain_version")"
if [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 10 ]; }; then std=c++20; fi
cxxflags=(-std=$std -O2 -fPIC -fvisibility=hidden -Wno-deprecated-declarations -Wno-unused-parameter
  "${defines[@]}" -I"$here/src" -I"$inc" -I"$inc/torch/csrc/api/include" -I"$jni_dir" -I"$jni_md")

start=$(date +%s)
objects=()
for src in "$here"/src/*.cc; do
  objects+=("$build/$(basename "${src%.cc}").o")
done
# One compiler per source file, $jobs at a time; every failure's messages are shown. An object
# is up to date when newer than its source, the shared header, the JNI headers and this script.
compile_one() {
  local src="$1" obj="$2"
  if [ "$obj" -nt "$src" ] && [ "$obj" -nt "$here/src/bridge.h" ] && [ "$obj" -nt "$here/build-bridge.sh" ] \
      && [ -z "$(find "$here/src/jni" -newer "$obj")" ]; then
    return 0
  fi
  "$cxx" "${cxxflags[@]}" -c "$src" -o "$obj" 2>"$obj.log" || { cat "$obj.log" >&2; rm -f "$obj"; return 1; }
}
failed=0
running=0
for src in "$here"/src/*.cc; do
  compile_one "$src" "$build/$(basename "${src%.cc}").o" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
[ "$failed" = 0 ] || die "compilation failed (errors above)"
so="$build/libdjl_torch.so"
"$cxx" -shared -o "$so" "${objects[@]}" -L"$lib" -Wl,--no-as-needed "${libs[@]}" -Wl,--as-needed \
  -Wl,-rpath,"$lib" -ldl
echo "build-bridge: compiled in $(( $(date +%s) - start )) s"

# ---- install --------------------------------------------------------------------------------------
engine_cache="$home/djl"
dest="$engine_cache/pytorch/$plain_version-$flavor-linux-x86_64"
mkdir -p "$dest"
cp "$so" "$dest/$djl_version-libdjl_torch.so.tmp"
mv "$dest/$djl_version-libdjl_torch.so.tmp" "$dest/$djl_version-libdjl_torch.so"
manifest="$home/bridge.properties"
cat > "$manifest.tmp" <<EOF
# Written by native/build-bridge.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); read by the rlhf commands.
library=$dest/$djl_version-libdjl_torch.so
PYTORCH_LIBRARY_PATH=$lib
PYTORCH_VERSION=$plain_version
PYTORCH_FLAVOR=$flavor
ENGINE_CACHE_DIR=$engine_cache
torch.version=$torch_version
EOF
mv "$manifest.tmp" "$manifest"
cat > "$home/bridge.env" <<EOF
export PYTORCH_LIBRARY_PATH='$lib'
export PYTORCH_VERSION='$plain_version'
export PYTORCH_FLAVOR='$flavor'
export ENGINE_CACHE_DIR='$engine_cache'
EOF
echo "build-bridge: installed $dest/$djl_version-libdjl_torch.so"
echo "build-bridge: manifest $manifest (the rlhf commands use it; check with: rlhf doctor)"
echo "build-bridge: for other DJL programs: source $home/bridge.env"
}

main "$@"
