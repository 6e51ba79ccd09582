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
./mvnw -B -q -pl runtime,kernels,nn,models,jmh -am test-compile
rm -rf "$dest/classes" "$dest/lib" "$dest/app"
mkdir -p "$dest/app" "$dest/lib"
# Jars, not folders: the PTX and cubins compress about tenfold, and .gpu must stay under 60 MB.
for m in runtime kernels nn models jmh; do
  "$JAVA_HOME/bin/jar" --create --file "$dest/app/$m.jar" -C "$m/target/classes" .
  [ -d "$m/target/test-classes" ] && "$JAVA_HOME/bin/jar" --create --file "$dest/app/$m-tests.jar" -C "$m/target/test-classes" .
done
# The jlinked JRE has no zip file system, so JUnit cannot scan jars there: list the gpu-tagged test classes here.
grep -rl --include='*Test.java' '@Tag("gpu")' runtime/src/test/java kernels/src/test/java models/src/test/java \
  | sed -E 's|^[a-z]+/src/test/java/||; s|\.java$||; s|/|.|g' | sort > "$dest/test-classes.txt"
echo "$(wc -l < "$dest/test-classes.txt") gpu test classes listed in $dest/test-classes.txt"
./mvnw -B -q -pl jmh dependency:copy-dependencies -DoutputDirectory="$PWD/$dest/lib" -DincludeScope=runtime -DexcludeGroupIds=dev.tessera,org.bytedeco
./mvnw -B -q -pl runtime,models dependency:copy-dependencies -DoutputDirectory="$PWD/$dest/lib" -DincludeScope=test -DexcludeGroupIds=dev.tessera
./mvnw -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 -DoutputDirectory="$PWD/$dest/lib"
du -sh "$dest" "$dest"/*
