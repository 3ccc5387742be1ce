#version 450
// The concentrations of a Dirichlet head: alpha[i] = 1 + 99 sigmoid(z[i]), i < count (dirichlet.glsl).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dirichlet.glsl"
layout(std430, binding = 0) readonly buffer Z { float z[]; };
layout(std430, binding = 1) writeonly buffer A { float alpha[]; };
layout(push_constant) uniform Params { uint count; } p;
void main() {
    uint i = globalIndex();
    if (i < p.count) alpha[i] = concentration(z[i]);
}
