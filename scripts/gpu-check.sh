#!/usr/bin/env bash
# Runs Tessera's GPU tests and GPU benchmarks on a CUDA machine without Java, from what scripts/gpu-pack.sh put in
# .gpu/. Writes every log and a results file into OUT_DIR (default $OUT, else ./gpu-out); ends in about 8 minutes.
#   scripts/gpu-check.sh [OUT_DIR]
# A rehearsal on a machine without a GPU (the same JRE, jars, test selection and reports; the tests run on the CUDA
# emulator that the test build leaves in target/cuda-emulator; the training run on the CPU; no PyTorch; the
# benchmarks once at toy sizes):
#   TESSERA_GPU_REHEARSAL=1 scripts/gpu-check.sh OUT_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu-out}}"
mkdir -p "$out"
exec > >(tee "$out/gpu-check.log") 2>&1
start=$(date +%s)
echo "== $(date -u) gpu-check on $(hostname)"
echo "== nvidia-smi"; nvidia-smi || echo "nvidia-smi failed"
echo "== cuBLAS libraries"; ldconfig -p 2>/dev/null | grep -i cublas || echo "(none in ldconfig)"
found=$(find / \( -path /proc -o -path /sys \) -prune -o -name 'libcublas.so*' -print 2>/dev/null | sort)
echo "${found:-(no libcublas.so* on disk)}"
if ! ldconfig -p 2>/dev/null | grep -q 'libcublas.so.1[23] '; then
  # Not on the loader path: point Tessera at the newest file found (a pip wheel's, typically).
  pick=$(echo "$found" | grep -E 'libcublas\.so\.13$' | head -n1)
  [ -z "$pick" ] && pick=$(echo "$found" | grep -E 'libcublas\.so\.12$' | head -n1)
  if [ -n "$pick" ]; then export TESSERA_CUBLAS="$pick"; echo "TESSERA_CUBLAS=$pick"; fi
fi
tar xzf .gpu/jre.tgz -C /tmp
java=/tmp/jre/bin/java
"$java" -version
libs=$(ls .gpu/lib/*.jar | grep -v console-standalone | tr '\n' ':')
app=.gpu/app
cp="$app/runtime.jar:$app/kernels.jar:$app/nn.jar:$app/models.jar:$app/runtime-tests.jar:$app/kernels-tests.jar:$app/models-tests.jar:$libs"
flags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g)
rehearsal="${TESSERA_GPU_REHEARSAL:-}"
[ -n "$rehearsal" ] && flags+=(-Dtessera.cuda.emulator="$PWD/target/cuda-emulator") && echo "== rehearsal: the gpu tests run on the CUDA emulator"

# Test classes are selected by name (the JRE has no zip file system for JUnit to scan jars with); the gpu tag filters.
selected=()
while read -r c; do [ -n "$c" ] && selected+=(--select-class "$c"); done < .gpu/test-classes.txt

echo "== gpu tests"
# Synchronise after every launch so a fault names the kernel that caused it; poison uninitialised memory (NaN bytes,
# as the CPU suites do) so a kernel that leaves part of its output unwritten fails.
timeout 300 "$java" "${flags[@]}" -Dtessera.cuda.sync=true -Dtessera.poisonUninitialized=true -jar .gpu/lib/junit-platform-console-standalone-*.jar execute \
  --class-path "$cp" "${selected[@]}" --include-tag gpu \
  --details=tree --disable-banner --reports-dir "$out/junit"
tests=$?
echo "== gpu tests exit status $tests"

# End to end: the command line trains a GPU-sized H-Net on this repository's Java sources (the JRE has no src.zip)
# for 45 s and reports its throughput. The rehearsal runs the same command line on the CPU for two tiny steps (the
# emulator would take minutes per step of hnet-small; the gpu tests above already run the CLI on it).
echo "== train (end to end)"
if [ -z "$rehearsal" ]; then
  train=(--model hnet-small --device cuda --time 45s --batch 16 --seq-len 2048 --eval-windows 8)
else
  train=(--model hnet-tiny --device cpu --steps 2 --batch 2 --seq-len 64 --eval-windows 2)
fi
rm -rf "$out/train"
timeout 150 "$java" "${flags[@]}" -Djava.awt.headless=true -cp "$cp" dev.tessera.models.cli.TesseraCli train "${train[@]}" \
  --data runtime/src/main/java --out "$out/train" > "$out/train.log" 2>&1
echo "== train exit status $? (log: $out/train.log)"

if [ -z "$rehearsal" ]; then
  echo "== PyTorch on the same GPU and shapes (what a PyTorch user has)"
  timeout 120 python3 scripts/gpu_torch_bench.py > "$out/torch.txt" 2>&1
  echo "== torch exit status $? (results: $out/torch.txt)"
fi

echo "== gpu benchmarks"
bcp="$app/jmh.jar:$app/runtime.jar:$app/kernels.jar:$libs"
left=$(( 470 - ($(date +%s) - start) ))
if [ -n "$rehearsal" ]; then
  # Every benchmark once at toy sizes on the emulator: it proves they run, not how fast.
  timeout 600 "$java" "${flags[@]}" -cp "$bcp" org.openjdk.jmh.Main 'dev\.tessera\.jmh\.gpu\.' -f 1 -wi 0 -i 1 -r 100ms \
    -p n=64 -p batch=2 -p heads=2 -p length=128 -p l=128 -p dim=64 -p rows=64 -p cols=128 -p f=128 -p b=1 -p h=2 -p in=64 -p out=128 -p layers=2 \
    -rf json -rff "$out/jmh-gpu.json" > "$out/jmh-gpu.log" 2>&1
  echo "== jmh (rehearsal, toy sizes) exit status $? (log: $out/jmh-gpu.log)"
elif [ "$left" -gt 60 ]; then
  timeout "$left" "$java" "${flags[@]}" -cp "$bcp" org.openjdk.jmh.Main 'dev\.tessera\.jmh\.gpu\.' -f 1 -wi 1 -w 1s -i 2 -r 1s \
    -rf json -rff "$out/jmh-gpu.json" > "$out/jmh-gpu.log" 2>&1
  echo "== jmh exit status $? (log: $out/jmh-gpu.log)"
else
  echo "== skipping benchmarks: only ${left}s left"
fi
{
  echo "# gpu-check $(date -u)${rehearsal:+ (rehearsal on the CUDA emulator)}"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
  echo "tests exit status: $tests"
  grep -hoE '[0-9]+ tests (found|successful|failed|skipped|aborted)' "$out/gpu-check.log"
  grep -hE '✘|\[X\]' "$out/gpu-check.log" | head -40
  if [ -s "$out/jmh-gpu.json" ]; then
    python3 scripts/jmh_ratios.py "$out/jmh-gpu.json"
    python3 - "$out/jmh-gpu.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1])):
    if "CudaGemmBench" in r["benchmark"]:
        n = int(r["params"]["n"]); s = r["primaryMetric"]["score"]
        print(f"tflops {r['benchmark'].rsplit('.', 1)[1]} n={n} {2 * n ** 3 * s / 1e12:.1f}")
PY
  fi
  [ -s "$out/torch.txt" ] && grep -E '^torch ' "$out/torch.txt"
  if [ -s "$out/train/metrics.jsonl" ]; then
    python3 - "$out/train/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
train = [r for r in rows if r.get("kind") == "train"]
evals = [r for r in rows if r.get("kind") == "eval"]
if train:
    last = train[-1]
    print(f"train steps {last['step']} in {last['elapsed_s']:.0f} s, {last['bytes_per_s']:.0f} bytes/s at the end, loss {last['loss']:.3f}")
if evals:
    print(f"train held-out bits per byte {evals[-1]['bpb']:.3f}")
PY
  fi
  grep -E "^training |held-out bits per byte|bytes per chunk" "$out/train.log" 2>/dev/null
} > "$out/results.txt" 2>&1
cat "$out/results.txt"
echo "== done in $(( $(date +%s) - start )) s"
