#!/usr/bin/env bash
# Runs the JMH benchmarks and compares Tessera with the baselines measured in the same run.
#
#   scripts/bench.sh [REGEX]        run from the repository root; REGEX selects benchmarks (JMH syntax, default all)
#
# Convention: in each benchmark class the method named `tessera` is compared with every other method of that
# class that ran with the same @Param values. For each pair it prints
#   ratio <Class>.tessera/<other> <params> <Tessera throughput / baseline throughput>
# (above 1: Tessera is faster), then a markdown table of all raw scores.
#
# Environment: JMH_OPTS replaces the short default run settings; JMH_RESULTS is where the JSON goes
# (default jmh/target/results.json); MVNW and JMH_MODULE exist for testing the script outside this repository.
set -euo pipefail

regex="${1:-}"
mvnw="${MVNW:-./mvnw}"
module="${JMH_MODULE:-jmh}"
results="${JMH_RESULTS:-$module/target/results.json}"
# Short but usable: 2 x 1 s warm-up, 3 x 1 s measurement, one fork. The benchmark classes use the same settings.
jmh_opts="${JMH_OPTS:--f 1 -wi 2 -w 1s -i 3 -r 1s}"

. "$(dirname "$0")/find-jdk.sh"
jdk="$JAVA_HOME"
java="$jdk/bin/java"

echo "== building $module with $("$java" -version 2>&1 | head -n 1)" >&2
"$mvnw" -B -q -pl "$module" -am install -DskipTests

cpfile="$(mktemp)"
trap 'rm -f "$cpfile"' EXIT
"$mvnw" -B -q -pl "$module" dependency:build-classpath -Dmdep.outputFile="$cpfile"
# The reactor's own classes come first, so a stale snapshot jar in ~/.m2 can never shadow them.
classpath="$module/target/classes"
for m in runtime kernels nn models; do [ -d "$m/target/classes" ] && classpath="$classpath:$m/target/classes"; done
classpath="$classpath:$(cat "$cpfile")"

mkdir -p "$(dirname "$results")"
rm -f "$results"
# The GPU benchmarks (package dev.tessera.jmh.gpu) run from scripts/gpu-check.sh on a CUDA machine, not here,
# unless the regex names them.
exclude=()
if [[ "$regex" != *gpu* ]]; then exclude=(-e '\.gpu\.'); fi
echo "== running JMH ${regex:-(all benchmarks)} $jmh_opts" >&2
# OPENBLAS_CORETYPE would pin OpenBLAS to an older kernel family (this project's sandbox sets Haswell, i.e. AVX2);
# the baseline must run its best kernels, so drop it for the benchmark JVMs (the OpenBLAS loader also clears it).
# JMH exits non-zero when a benchmark fails (e.g. a missing baseline); report what did run anyway.
set +e
# shellcheck disable=SC2086
env -u OPENBLAS_CORETYPE "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -cp "$classpath" org.openjdk.jmh.Main $regex "${exclude[@]}" $jmh_opts -rf json -rff "$results"
status=$?
set -e
if [[ ! -s "$results" ]]; then
    echo "bench.sh: JMH wrote no results (exit status $status)" >&2
    exit 1
fi

python3 "$(dirname "$0")/jmh_ratios.py" "$results"
echo "results: $results" >&2
if [[ $status -ne 0 ]]; then echo "bench.sh: JMH exited with status $status (some benchmark failed; see its output above)" >&2; fi
