#version 450
// SGD with momentum, PyTorch semantics (dampening 0, no weight decay, not Nesterov):
// buf = momentum * buf + g; w -= lr * buf. With buf starting at 0 the first step gives buf = g exactly.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) buffer W { float w[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) buffer B { float buf[]; };
layout(push_constant) uniform Params { uint count; float lr; float momentum; } p;
void main() {
    uint i = globalIndex();
    if (i >= p.count) return;
    float b = p.momentum * buf[i] + g[i];
    buf[i] = b;
    w[i] -= p.lr * b;
}
