#version 450
// Gathers rows of a [rows, width] float matrix: out[b, k] = src[indices[b], k] for b < batch.
// Used to pick a batch's targets from the targets of the whole data set on the device.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) readonly buffer Indices { uint indices[]; };
layout(std430, binding = 2) writeonly buffer Out { float outp[]; };
layout(push_constant) uniform Params { uint batch; uint width; } p;
void main() {
    uint i = globalIndex();
    if (i >= p.batch * p.width) return;
    outp[i] = src[indices[i / p.width] * p.width + i % p.width];
}
