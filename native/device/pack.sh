#!/usr/bin/env bash
# Packs what a run on the lent GPU machine needs into DEST (default: the main checkout's .gpu/,
# which the device tool carries; it must be ignored by git there): a jlink'd Java runtime, the
# project's classes and a slim classpath (no pytorch-native-cpu or pytorch-jni: the bridge is built
# there), the JUnit console, jni.h, the bridge sources and build script, the PyTorch twin and
# run-on-device.sh. Run from a worktree after `mvn -DskipTests install` (or test-compile).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${1:-/work/main/.gpu}"
java_home="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"
junit="$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/1.14.4/junit-platform-console-standalone-1.14.4.jar"
[ -f "$junit" ] || mvn -q dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.4

rm -rf "$dest"
mkdir -p "$dest/stage/lib" "$dest/stage/classes" "$dest/repo"
cd "$root"

# The slim classpath: the model's and the CLI's runtime jars, minus PyTorch's CPU natives and DJL's
# prebuilt JNI library (the bridge replaces both there), minus what only `rlhf up` needs.
mvn -B -q -o -pl deploy dependency:build-classpath -Dmdep.outputFile="$dest/cp.txt" -Dmdep.includeScope=runtime
tr ':' '\n' < "$dest/cp.txt" | grep -v -E 'pytorch-native-cpu|pytorch-jni|/org/apache/kafka/|/io/vertx/|/io/netty/|scala-|zstd-jni|snappy|lz4|/com/fasterxml/|/io/grpc/|/io/prometheus/|/io/micrometer/|log4j|guava|/com/google/protobuf/|jose4j|/org/bitbucket/|/net/sourceforge/argparse4j/|metrics-core|/org/rocksdb/|jopt|/com/github/ben-manes/|/io/opentelemetry/' \
  | while read -r jar; do cp "$jar" "$dest/stage/lib/"; done
# The tokenizers jar carries natives for four platforms; keep linux-x86_64's.
tok="$(ls "$dest/stage/lib"/tokenizers-*.jar)"
zip -q -d "$tok" 'native/lib/linux-aarch64/*' 'native/lib/osx-aarch64/*' 'native/lib/win-x86_64/*' || true
cp "$junit" "$dest/stage/lib/"
for m in model platform proto deploy; do
  mkdir -p "$dest/stage/classes/$m"
  cp -r "$m/target/classes/." "$dest/stage/classes/$m/"
done
mkdir -p "$dest/stage/classes/model-tests"
cp -r model/target/test-classes/. "$dest/stage/classes/model-tests/"

# A Java runtime for a machine without Java.
"$java_home/bin/jlink" --add-modules java.base,java.logging,jdk.unsupported,java.management,java.naming,java.xml \
  --strip-debug --no-man-pages --no-header-files --compress=2 --output "$dest/stage/jre"
tar czf "$dest/runtime.tgz" -C "$dest/stage" jre lib classes
rm -rf "$dest/stage" "$dest/cp.txt"

# Sources built there, and the scripts.
mkdir -p "$dest/repo/native" "$dest/repo/model/bench" "$dest/jni"
cp -r native/src native/build-bridge.sh native/device "$dest/repo/native/"
cp pom.xml "$dest/repo/"
cp model/bench/*.py "$dest/repo/model/bench/"
cp -r model/src/test/resources/hf-reference "$dest/repo/model/hf-reference"
cp "$java_home/include/jni.h" "$java_home/include/linux/jni_md.h" "$dest/jni/"
du -sh "$dest"; ls -la "$dest"
