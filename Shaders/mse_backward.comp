#version 450
// Gradient of loss_sum / count (the seed divides the summed MSE by output.numel() before backward):
// grad[i] = 2 * (pred[i] - target[i]) / count.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer P { float pred[]; };
layout(std430, binding = 1) readonly buffer T { float target[]; };
layout(std430, binding = 2) writeonly buffer G { float grad[]; };
layout(push_constant) uniform Params { uint count; } p;
void main() {
    uint i = globalIndex();
    if (i < p.count) grad[i] = 2.0 * (pred[i] - target[i]) / float(p.count);
}
