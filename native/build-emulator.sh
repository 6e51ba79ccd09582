#!/usr/bin/env bash
# Builds the CUDA emulator: every .cu under native/cuda compiled for the host with g++ against
# native/emulation/cuda_emulation.h, one shared library per module (libtessera-emu-<module>.so, as the PTX modules
# are separate, so their helpers never merge) over one core (libtessera-emu-core.so: the fiber scheduler, the
# warp-collective operations and the cuBLAS stand-in). The tests run the gpu-tagged suites on it where no GPU is
# present (dev.tessera.runtime.cuda.KernelEmulator). Without g++ it says so and succeeds; those tests then skip.
# Usage: build-emulator.sh OUT_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out=$1
mkdir -p "$out"
if ! command -v g++ >/dev/null 2>&1; then
  echo "[emulator] g++ not on the PATH: the CUDA emulator is not built (gpu-tagged tests skip without a GPU)"
  exit 0
fi
if command -v flock >/dev/null 2>&1; then
  exec 9>"$out/.lock"
  flock 9 # builds run side by side (maven -T) share one output folder
fi
emu="$here/emulation"
common="$here/cuda/runtime"
# -fno-strict-aliasing: the kernels reinterpret 16-byte vectors as elements, which nvcc allows and g++ -O2 would break
flags=(-std=c++17 -O2 -g0 -fPIC -fvisibility=hidden -ffp-contract=off -fno-strict-aliasing -DTESSERA_CUDA_EMULATION -I "$emu" -I "$common")
newer_than() { [ -n "$(find "$emu" "$@" -maxdepth 1 \( -name '*.cu' -o -name '*.cuh' -o -name '*.h' -o -name '*.cpp' -o -name '*.sh' \) -newer "$lib" -print -quit)" ]; }

lib="$out/libtessera-emu-core.so"
if [ ! -f "$lib" ] || newer_than "$here/build-emulator.sh"; then
  g++ "${flags[@]}" -fvisibility=default -shared -o "$lib.tmp" "$emu/emulator.cpp"
  mv "$lib.tmp" "$lib"
fi

build_one() {
  local cu=$1 name lib wrapper names
  name=$(basename "$cu" .cu)
  lib="$out/libtessera-emu-$name.so"
  if [ -f "$lib" ] && [ -z "$(find "$emu" "$common" "$(dirname "$cu")" "$out/libtessera-emu-core.so" -maxdepth 1 \
      \( -name '*.cu' -o -name '*.cuh' -o -name '*.h' -o -name '*.so' \) -newer "$lib" -print -quit)" ]; then
    return 0
  fi
  # The kernels are the extern "C" functions left after preprocessing (macros such as TS_FLOAT_ENTRIES expanded).
  names=$(g++ "${flags[@]}" -E -x c++ -I "$(dirname "$cu")" "$cu" | tr '\n' ' ' \
          | grep -oE 'extern "C" +void +[A-Za-z_][A-Za-z0-9_]* *\(' | sed -E 's/extern "C" +void +([A-Za-z0-9_]+).*/\1/' | sort -u)
  wrapper="$out/emu-$name.cpp"
  {
    echo "#include \"$cu\""
    echo "static const tessera_emu::Kernel tessera_emu_kernels[] = {"
    for k in $names; do echo "    tessera_emu::kernel(\"$k\", &$k),"; done
    echo "};"
    echo "static tessera_emu::Registrar tessera_emu_registrar(\"$name\", tessera_emu_kernels, sizeof tessera_emu_kernels / sizeof tessera_emu_kernels[0]);"
  } > "$wrapper"
  # Every load and store of the kernels is checked for its type's alignment, as a GPU's memory system does (a
  # misaligned 16-byte vector load faults there and goes through on x86), and every index into an array of known
  # size (shared and local arrays) against that size. Compiled with -fsanitize=alignment,bounds and linked without
  # the sanitizer's runtime: its handlers are emulator.cpp's, which stop the launch.
  if ! msg=$(g++ "${flags[@]}" -fsanitize=alignment,bounds -I "$(dirname "$cu")" -c -o "$lib.o" "$wrapper" 2>&1 \
      && g++ -shared -o "$lib.tmp" "$lib.o" -L "$out" -ltessera-emu-core -Wl,-rpath,'$ORIGIN' 2>&1); then
    echo "[emulator] g++ failed on $cu:"; echo "$msg"; rm -f "$lib.tmp" "$lib.o"; return 1
  fi
  rm -f "$lib.o"
  mv "$lib.tmp" "$lib"
  echo "[emulator] $name: $(echo $names | wc -w) kernels"
}
status=0
pids=()
# selftest.cu: kernels that test the emulator itself (KernelEmulatorTest), never built to PTX
for cu in "$here"/cuda/runtime/*.cu "$here"/cuda/kernels/*.cu "$emu"/selftest.cu; do
  build_one "$cu" &
  pids+=($!)
  # two at a time: g++ on the attention kernels' templates takes a few hundred MB
  if [ ${#pids[@]} -ge "$(nproc 2>/dev/null || echo 2)" ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
