#version 450
// 2x2 max pooling, stride 2, NCHW: y[n,c,oy,ox] = max of x[n,c,2oy..2oy+1,2ox..2ox+1]; idx gets the
// flat index (iy*W+ix) of the first maximum in row-major window order, as PyTorch routes ties.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 2) writeonly buffer I { uint idx[]; };
layout(push_constant) uniform Params { uint planes; uint height; uint width; } p;
void main() {
    uint oh = p.height / 2, ow = p.width / 2;
    uint i = globalIndex();
    if (i >= p.planes * oh * ow) return;
    uint plane = i / (oh * ow), r = i % (oh * ow);
    uint oy = r / ow, ox = r % ow;
    uint base = plane * p.height * p.width;
    uint best = (2 * oy) * p.width + 2 * ox;
    float m = x[base + best];
    for (uint k = 1; k < 4; k++) {
        uint at = (2 * oy + k / 2) * p.width + 2 * ox + k % 2;
        float v = x[base + at];
        if (v > m || isnan(v)) { m = v; best = at; }
    }
    y[i] = m;
    idx[i] = best;
}
