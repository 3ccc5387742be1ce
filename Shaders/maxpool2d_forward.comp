#version 450
// 2x2 max pooling, stride 2, NCHW: y[n,c,oy,ox] = max of x[n,c,2oy..2oy+1,2ox..2ox+1]; idx gets the
// flat index (iy*W+ix) of the first maximum in row-major window order, as PyTorch routes ties.
// With V = 2 each invocation pools two neighbouring windows from two vec4 loads (the host checks
// width % 4 == 0 and alignment): llvmpipe pays per load instruction and lane.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint V = 1;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) writeonly buffer Y2 { vec2 y2[]; };
layout(std430, binding = 2) writeonly buffer I { uint idx[]; };
layout(std430, binding = 2) writeonly buffer I2 { uvec2 idx2[]; };
layout(push_constant) uniform Params { uint planes; uint height; uint width; } p;

// The window's values in row-major order; returns the first maximum (a NaN wins) and its slot.
float pool(vec4 v, out uint slot) {
    float m = v[0];
    slot = 0;
    for (uint k = 1; k < 4; k++) {
        if (v[k] > m || isnan(v[k])) { m = v[k]; slot = k; }
    }
    return m;
}

void main() {
    uint oh = p.height / 2, ow = p.width / 2;
    uint i = globalIndex();
    if (V == 2) {
        if (i >= p.planes * oh * ow / 2) return;
        uint plane = i / (oh * ow / 2), r = i % (oh * ow / 2);
        uint oy = r / (ow / 2), ox = 2 * (r % (ow / 2));
        uint top = (plane * p.height + 2 * oy) * p.width + 2 * ox;
        vec4 a = x4[top / 4], b = x4[(top + p.width) / 4];
        uint s0, s1;
        float m0 = pool(vec4(a.xy, b.xy), s0), m1 = pool(vec4(a.zw, b.zw), s1);
        uint first = (2 * oy) * p.width + 2 * ox;
        y2[i] = vec2(m0, m1);
        idx2[i] = uvec2(first + (s0 / 2) * p.width + s0 % 2, first + 2 + (s1 / 2) * p.width + s1 % 2);
        return;
    }
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
