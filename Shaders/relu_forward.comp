#version 450
// y[i] = max(x[i], 0) over a flat array of `count` floats (x and y may be the same buffer).
// With V = 4 each invocation handles one vec4 (the host checks count % 4 == 0 and alignment):
// llvmpipe pays per load instruction and lane, so wide loads are cheaper.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint V = 1;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform Params { uint count; } p;
void main() {
    uint i = globalIndex();
    if (V == 4) {
        if (i < p.count / 4) y4[i] = max(x4[i], vec4(0.0));
    } else {
        if (i < p.count) y[i] = max(x[i], 0.0);
    }
}
