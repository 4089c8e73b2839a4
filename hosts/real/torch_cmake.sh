# Sourced by the build scripts: put this venv's libtorch where a plugin's CMake can find it.
#   torch_cmake WORK  ->  WORK/torch/libtorch with the wheel's CPU libraries, headers, and a small
# TorchConfig.cmake (the wheel's own wants CUDA, because the wheel is a CUDA build). Sets torch_dir.
torch_cmake() {
  local root=$1/torch/libtorch
  torch_dir=$("$repo/.venv/bin/python" -c "import os, torch; print(os.path.dirname(torch.__file__))")
  local lib=$root/lib
  mkdir -p "$lib" "$root/share/cmake/Torch"
  for f in libtorch.so libtorch_cpu.so libc10.so libtorch_global_deps.so libgomp.so.1; do
    ln -sf "$torch_dir/lib/$f" "$lib/$f"
  done
  ln -sfn "$torch_dir/include" "$root/include"
  cat > "$root/share/cmake/Torch/TorchConfig.cmake" <<CMAKE
set(TORCH_INSTALL_PREFIX "$root")
set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")
if(NOT TARGET torch_cpu_only)
  add_library(torch_cpu_only SHARED IMPORTED)
  set_target_properties(torch_cpu_only PROPERTIES
    IMPORTED_LOCATION "$lib/libtorch_cpu.so"
    INTERFACE_LINK_LIBRARIES "$lib/libc10.so"
    INTERFACE_INCLUDE_DIRECTORIES "$torch_dir/include;$torch_dir/include/torch/csrc/api/include"
    INTERFACE_COMPILE_OPTIONS "-D_GLIBCXX_USE_CXX11_ABI=1")
endif()
set(TORCH_LIBRARIES torch_cpu_only)
set(Torch_FOUND TRUE)
CMAKE
}

# unpack SOURCE (.tar.gz or folder) into DEST
unpack() {
  if [ -d "$1" ]; then cp -r "$1" "$2"; else mkdir -p "$2" && tar xzf "$1" -C "$2" --strip-components=1; fi
}
