#version 450
// Gradient of 2x2/stride-2 max pooling, NCHW: dx[n,c,iy,ix] = dy of its window if that window's
// argmax is (iy,ix), else 0. Windows do not overlap, so each input element is written once, no atomics.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer I { uint idx[]; };
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform Params { uint planes; uint height; uint width; } p;
void main() {
    uint oh = p.height / 2, ow = p.width / 2;
    uint i = globalIndex();
    if (i >= p.planes * p.height * p.width) return;
    uint plane = i / (p.height * p.width), r = i % (p.height * p.width);
    uint iy = r / p.width, ix = r % p.width;
    float g = 0.0;
    if (iy / 2 < oh && ix / 2 < ow) {
        uint o = plane * oh * ow + (iy / 2) * ow + ix / 2;
        if (idx[o] == r) g = dy[o];
    }
    dx[i] = g;
}
