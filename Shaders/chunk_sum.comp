#version 450
// y[i] = sum_{h < chunks} x[h * count + i]: the partial sums of a split reduction (one per chunk, laid out
// chunk after chunk) added in chunk order, so the result does not depend on how the chunks were scheduled.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint count; uint chunks; } p;
void main() {
    uint i = globalIndex();
    if (i >= p.count) return;
    float sum = 0.0;
    for (uint h = 0; h < p.chunks; h++) sum += x[h * p.count + i];
    y[i] = sum;
}
