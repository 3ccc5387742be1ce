#version 450
// Sum of squared errors over `count` elements, as MSELoss(reduction='sum'), by one workgroup in a
// fixed order (deterministic). loss[slot] = sum, or loss[slot] += sum when `accumulate` is 1.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer P { float pred[]; };
layout(std430, binding = 1) readonly buffer T { float target[]; };
layout(std430, binding = 2) buffer L { float loss[]; };
layout(push_constant) uniform Params { uint count; uint slot; uint accumulate; } p;
shared float partial[gl_WorkGroupSize.x];
void main() {
    uint t = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint i = t; i < p.count; i += gl_WorkGroupSize.x) {
        float d = pred[i] - target[i];
        s += d * d;
    }
    partial[t] = s;
    barrier();
    for (uint half_ = gl_WorkGroupSize.x / 2; half_ > 0; half_ /= 2) {
        if (t < half_) partial[t] += partial[t + half_];
        barrier();
    }
    if (t == 0) loss[p.slot] = (p.accumulate != 0 ? loss[p.slot] : 0.0) + partial[0];
}
