#!/usr/bin/env bash
# Build the real nn.ar (SuperCollider server plugin + its classes) from its source against this venv's torch.
#   hosts/real/build_nn_ar.sh SOURCE(.tar.gz or folder) OUT_DIR
# Leaves OUT_DIR/nn.ar/{NNUGens_scsynth.so,Classes/}: run scsynth with -U <its plugins>:OUT_DIR/nn.ar and
# LD_LIBRARY_PATH=<the wheel's torch/lib>; give sclang OUT_DIR/nn.ar as an include path.
# The source is not ours (elgiano/nn.ar, GPL-3.0): it is built where it lies, never copied into this
# repository. Needs: cmake g++ supercollider-dev (its headers stand in for a SuperCollider source tree).
set -euo pipefail
src=$1 out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/hosts/real/torch_cmake.sh"
work=$out/work
rm -rf "$work" && mkdir -p "$work"
unpack "$src" "$work/nn.ar"
torch_cmake "$work"

# Its CMake wants a SuperCollider source tree (SC_PATH); Debian's installed headers have the parts it reads.
sc=$work/sc_path inc=/usr/include/SuperCollider
mkdir -p "$sc/include"
cp "$inc/SCVersion.txt" "$sc/"
ln -s "$inc/plugin_interface" "$sc/include/plugin_interface"
ln -s "$inc/common" "$sc/include/common"
ln -s "$inc/common" "$sc/common"

# Torch_DIR, not CMAKE_PREFIX_PATH: with a prefix path its CMake copies libtorch (~500 MB) beside the plugin.
cmake -S "$work/nn.ar" -B "$work/build" -DSC_PATH="$sc" -DSUPERNOVA=OFF -DNOVA_SIMD=OFF \
      -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$work/torch/libtorch/share/cmake/Torch" \
      -DCMAKE_INSTALL_PREFIX="$out" > "$work/cmake.log" 2>&1 || { tail -30 "$work/cmake.log"; exit 1; }
cmake --build "$work/build" -j "$(nproc)" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
cmake --install "$work/build" > "$work/install.log" 2>&1 || { tail -20 "$work/install.log"; exit 1; }
cp "$work/build.log" "$out/"
rm -rf "$work"
echo "$out/nn.ar"
