#version 450
// y[i] = max(x[i], 0) over a flat array of `count` floats (x and y may be the same buffer).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint count; } p;
void main() {
    uint i = globalIndex();
    if (i < p.count) y[i] = max(x[i], 0.0);
}
