#version 450
// dx[i] = y[i] > 0 ? dy[i] : 0, where y = relu(x) is the forward output (flat arrays of `count`).
// With V = 4 each invocation handles one vec4 (the host checks count % 4 == 0 and alignment).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint V = 1;
layout(std430, binding = 0) readonly buffer Y { float y[]; };
layout(std430, binding = 0) readonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer DY4 { vec4 dy4[]; };
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(std430, binding = 2) writeonly buffer DX4 { vec4 dx4[]; };
layout(push_constant) uniform Params { uint count; } p;
void main() {
    uint i = globalIndex();
    if (V == 4) {
        if (i < p.count / 4) dx4[i] = mix(vec4(0.0), dy4[i], greaterThan(y4[i], vec4(0.0)));
    } else {
        if (i < p.count) dx[i] = y[i] > 0.0 ? dy[i] : 0.0;
    }
}
