#!/usr/bin/env bash
# Assembles the GPU kit: ./kit/assemble.sh BUILD_DIR KIT_DIR (run from the repository root).
# BUILD_DIR holds a release galaxy and its shader bundle (make gpu-kit: the static build in .build/kit).
set -euo pipefail
build=$1
kit=$2
rm -rf "$kit"
mkdir -p "$kit/lib"
# Stripped and gzipped (run.sh unpacks it): the static Swift runtime brings ICU's 34 MB of data, and the
# kit must travel in under 64 MiB.
strip -o "$kit/galaxy" "$build/galaxy"
gzip -6 "$kit/galaxy"
cp -R "$build/galaxy_GalaxyKit.resources" "$kit/"
# The shared libraries galaxy loads that a machine with a GPU driver may lack: libjpeg-turbo's, libpng's and the
# Vulkan loader (the driver itself, its ICD, is the machine's).
for lib in libturbojpeg.so.0 libpng16.so.16 libvulkan.so.1; do
  path=$(ldd "$build/galaxy" | awk -v l="$lib" '$1 == l { print $3 }')
  [ -n "$path" ] || { echo "assemble.sh: galaxy does not load $lib" >&2; exit 1; }
  cp -L "$path" "$kit/lib/$lib"
done
cp ../shared/data/torch-golden/sdnet_two_sgd_steps.safetensors "$kit/"
cp bench/torch_peer.py kit/run.sh kit/report.py "$kit/"
echo "$kit: $(du -sh "$kit" | cut -f1)"
