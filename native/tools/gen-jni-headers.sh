#!/usr/bin/env bash
# Regenerates the JNI declarations in native/src/jni/ from the Java side:
#  - DJL's ai.djl.pytorch.jni.PyTorchLibrary (its native method signatures, from the
#    pytorch-engine sources jar in the local Maven repository), and
#  - our org.rlhfstream.model.nativeops.FastOpsNative.
# The headers are committed so that the bridge builds on hosts without a JDK (the GPU machine).
# Run after upgrading DJL or changing FastOpsNative; needs a JDK and Maven.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
djl="$(sed -n 's:.*<djl.version>\(.*\)</djl.version>.*:\1:p' "$root/pom.xml")"
jar="$HOME/.m2/repository/ai/djl/pytorch/pytorch-engine/$djl/pytorch-engine-$djl-sources.jar"
[ -f "$jar" ] || mvn -q dependency:get -Dartifact="ai.djl.pytorch:pytorch-engine:$djl:jar:sources"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
unzip -q -o "$jar" ai/djl/pytorch/jni/PyTorchLibrary.java -d "$tmp/src"
javac -h "$root/native/src/jni" -d "$tmp/classes" "$tmp/src/ai/djl/pytorch/jni/PyTorchLibrary.java"
javac -h "$root/native/src/jni" -d "$tmp/classes" \
  "$root/model/src/main/java/org/rlhfstream/model/nativeops/FastOpsNative.java"
echo "headers in native/src/jni:"; ls "$root/native/src/jni"
