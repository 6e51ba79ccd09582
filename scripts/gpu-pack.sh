#!/usr/bin/env bash
# Prepares .gpu/ for scripts/gpu-check.sh on a CUDA machine that has no Java (see ../shared/gpu/README.md):
# a jlinked Java 25 runtime, the compiled classes and test classes of the modules with GPU code, the jmh
# benchmarks, and every jar they need, including JUnit's console launcher. Run from the repository root here;
# then carry .gpu/ to the GPU machine (it is git-ignored) and run scripts/gpu-check.sh OUT_DIR there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
dest=.gpu
mkdir -p "$dest"
[ -s "$dest/jre.tgz" ] || ../shared/gpu/make-jre.sh "$dest"
./mvnw -B -q -pl runtime,kernels,jmh -am test-compile
./mvnw -B -q -pl jmh -am package -DskipTests
rm -rf "$dest/classes" "$dest/lib"
mkdir -p "$dest/classes" "$dest/lib"
for m in runtime kernels jmh; do
  [ -d "$m/target/classes" ] && cp -r "$m/target/classes" "$dest/classes/$m"
  [ -d "$m/target/test-classes" ] && cp -r "$m/target/test-classes" "$dest/classes/$m-tests"
done
./mvnw -B -q -pl jmh dependency:copy-dependencies -DoutputDirectory="$PWD/$dest/lib" -DincludeScope=runtime -DexcludeGroupIds=dev.tessera,org.bytedeco
./mvnw -B -q -pl runtime dependency:copy-dependencies -DoutputDirectory="$PWD/$dest/lib" -DincludeScope=test -DexcludeGroupIds=dev.tessera
./mvnw -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 -DoutputDirectory="$PWD/$dest/lib"
du -sh "$dest" "$dest"/*
