#!/usr/bin/env bash
# Compiles every .cu under SRC_DIR to PTX for compute_80 and compute_90 into OUT_DIR, then assembles each PTX
# with `ptxas -arch=sm_90 -v` so that an error fails the build and the register/spill report lands in the log.
# The sm_90 assembly of the compute_90 PTX is kept as a cubin: Hopper GPUs load it directly instead of
# JIT-compiling megabytes of PTX at first use; other GPUs JIT the PTX (cached by the driver afterwards). Beside each
# cubin, <module>.sm_90.resources lists every entry's registers per thread and static shared bytes.
# Without nvcc on the PATH it says so and succeeds: the CUDA backend then reports its kernels as missing.
# Usage: build-ptx.sh SRC_DIR OUT_DIR LOG_FILE
set -euo pipefail
src=$1 out=$2 log=$3
reports="$(dirname "$log")/ptx-reports"
mkdir -p "$out" "$reports"
shopt -s nullglob
sources=("$src"/*.cu)
if [ ${#sources[@]} -eq 0 ]; then
  echo "[ptx] no CUDA sources in $src"
  exit 0
fi
if ! command -v nvcc >/dev/null 2>&1 || ! command -v ptxas >/dev/null 2>&1; then
  echo "[ptx] nvcc/ptxas not on the PATH: skipping ${#sources[@]} CUDA sources in $src (the CUDA backend will report its kernels missing)"
  rm -f "$out"/*.ptx "$out"/*.cubin "$out"/INDEX
  exit 0
fi
: > "$log"
jobs=$(nproc 2>/dev/null || echo 2)
# The fused kernels include the runtime's shared header (native/cuda/runtime/tessera.cuh).
common="$(cd "$(dirname "$0")" && pwd)/cuda/runtime"
export out log reports common
compile_one() {
  local cu=$1 name arch ptx
  name=$(basename "$cu" .cu)
  for arch in 80 90; do
    ptx="$out/$name.compute_$arch.ptx"
    # Skip when the PTX (and cubin) is newer than every source and header here and in the shared header's folder.
    if [ -f "$ptx" ] && { [ "$arch" != 90 ] || { [ -f "$out/$name.sm_90.cubin" ] && [ -f "$out/$name.sm_90.resources" ]; }; } \
        && [ -z "$(find "$(dirname "$cu")" "$common" -maxdepth 1 \( -name '*.cu' -o -name '*.cuh' \) -newer "$ptx" -print -quit)" ]; then
      continue
    fi
    if ! msg=$(nvcc -ptx -arch=compute_$arch -O3 -std=c++17 -I "$(dirname "$cu")" -I "$common" -o "$ptx.tmp" "$cu" 2>&1); then
      echo "[ptx] nvcc failed on $cu (compute_$arch):"; echo "$msg"; rm -f "$ptx.tmp"; return 1
    fi
    local image=/dev/null
    [ "$arch" = 90 ] && image="$out/$name.sm_90.cubin"
    if ! report=$(ptxas -arch=sm_90 -v -o "$image" "$ptx.tmp" 2>&1); then
      echo "[ptx] ptxas -arch=sm_90 rejected $name.compute_$arch.ptx:"; echo "$report"; rm -f "$ptx.tmp" "$out/$name.sm_90.cubin"; return 1
    fi
    mv "$ptx.tmp" "$ptx"
    # What each entry of the cubin needs per thread and per block, for the dry run's launch checks: a launch whose
    # block needs more registers or shared memory than an SM has fails on a GPU, and nothing else would show it here.
    [ "$arch" = 90 ] && printf '%s\n' "$report" | awk '
      /Compiling entry function/ { match($0, /function .[^ ]*. /); name = substr($0, RSTART + 10, RLENGTH - 12) }
      /Used [0-9]+ registers/    { smem = 0; for (i = 1; i < NF; i++) if ($(i + 1) == "bytes" && $(i + 2) == "smem") smem = $i
                                   print name, $5, smem }' > "$out/$name.sm_90.resources"
    { echo "== $name.compute_$arch.ptx (ptxas -arch=sm_90 -v)"; echo "$report"; } > "$reports/$name.compute_$arch.report"
  done
}
export -f compile_one
printf '%s\n' "${sources[@]}" | xargs -P "$jobs" -I{} bash -c 'compile_one "$1"' _ {}
cat "$reports"/*.report > "$log"
# Summarise in one line (the per-kernel report is in the log): entry points assembled (each from both PTX
# versions), the most registers any uses, and which spill to local memory.
awk -v log_file="$log" '
  /Compiling entry function/   { match($0, /function .[^ ]*. /); name = substr($0, RSTART + 10, RLENGTH - 12)
                                 if (!(name in seen)) { seen[name] = 1; entries++ } }
  /bytes spill stores/         { spills = $5 + $9 }
  /Used [0-9]+ registers/      { if ($5 + 0 > most) { most = $5 + 0; widest = name }
                                 if (spills > 0 && !(name in spilling)) { spilling[name] = 1; list = list (list == "" ? "" : ", ") name } }
  END { printf "[ptx] %d entry points assembled for sm_90; most registers: %d (%s); spilling: %s\n",
               entries, most, widest, list == "" ? "none" : list " (see " log_file ")" }
' "$log" || true
(cd "$out" && ls *.ptx | sed -E 's/\.compute_[0-9]+\.ptx$//' | sort -u) > "$out/INDEX"
echo "[ptx] $(ls "$out"/*.ptx | wc -l) PTX files in $out (report: $log)"
