#version 450
// dx[i] = y[i] > 0 ? dy[i] : 0, where y = relu(x) is the forward output (flat arrays of `count`).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer Y { float y[]; };
layout(std430, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform Params { uint count; } p;
void main() {
    uint i = globalIndex();
    if (i < p.count) dx[i] = y[i] > 0.0 ? dy[i] : 0.0;
}
