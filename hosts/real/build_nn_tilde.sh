#!/usr/bin/env bash
# Build the real nn~ (Pure Data external) from its source archive or tree against this venv's torch.
#   hosts/real/build_nn_tilde.sh SOURCE(.tar.gz or folder) OUT_DIR
# Leaves OUT_DIR/nn~.pd_linux; run Pd with -path OUT_DIR and LD_LIBRARY_PATH=<the wheel's torch/lib>.
# The source is not ours (acids-ircam/nn_tilde, CC BY-NC 4.0): it is built where it lies, never copied
# into this repository. Needs: cmake g++ puredata-dev nlohmann-json3-dev libcurl4-openssl-dev.
set -euo pipefail
src=$1 out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/hosts/real/torch_cmake.sh"
work=$out/work
rm -rf "$work" && mkdir -p "$work"
unpack "$src" "$work/nn_tilde"
tree=$work/nn_tilde

# Files the archive leaves out (Max-only, or git submodules) that its CMake expects to exist.
mkdir -p "$tree/install"
touch "$tree/install/max-linker-flags.txt" "$tree/install/MaxAPI.lib" "$tree/install/patch_with_vst.sh"
echo 'find_package(nlohmann_json 3 REQUIRED GLOBAL)' > "$tree/src/json/CMakeLists.txt"
# Its Linux build links <tree>/env/lib/libcurl.so (upstream CI's conda env): Debian's instead.
mkdir -p "$tree/env/lib"
ln -sf "$(ls /usr/lib/*-linux-gnu/libcurl.so | head -1)" "$tree/env/lib/libcurl.so"

# libtorch where its CMake looks (<build>/../torch/libtorch), from the pip wheel.
torch_cmake "$work"

cmake -S "$tree/src" -B "$work/build" -DPUREDATA_INCLUDE_DIR=/usr/include/pd -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$work/torch/libtorch" > "$work/cmake.log" 2>&1 || { tail -30 "$work/cmake.log"; exit 1; }
cmake --build "$work/build" --target nn -j "$(nproc)" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
cp "$work/build/frontend/puredata/nn_tilde/nn~.pd_linux" "$work/build.log" "$out/"
rm -rf "$work"   # ~400 MB of copied torch libraries; Pd finds the wheel's through LD_LIBRARY_PATH
echo "$out/nn~.pd_linux"
