#version 450
// Gradient of loss_sum / denominator (the seed divides the summed MSE by output.numel() before backward):
// grad[i] = 2 * (pred[i] - target[i]) / denominator, i < count. denominator = count for a whole batch; a
// rank of a distributed run that holds a shard of the batch divides by the whole batch's element count.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer P { float pred[]; };
layout(std430, binding = 1) readonly buffer T { float target[]; };
layout(std430, binding = 2) writeonly buffer G { float grad[]; };
layout(push_constant) uniform Params { uint count; uint denominator; } p;
void main() {
    uint i = globalIndex();
    if (i < p.count) grad[i] = 2.0 * (pred[i] - target[i]) / float(p.denominator);
}
