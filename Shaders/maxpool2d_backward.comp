#version 450
// Gradient of 2x2/stride-2 max pooling, NCHW: dx[n,c,iy,ix] = dy of its window if that window's
// argmax is (iy,ix), else 0. Windows do not overlap, so each input element is written once, no atomics.
// With V = 2 (height and width even) each invocation writes one whole window as two vec2 rows; with
// V = 4 (width % 4 == 0 too) two neighbouring windows as two vec4 rows: fewer, wider memory operations.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint V = 1;
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 0) readonly buffer DY2 { vec2 dy2[]; };
layout(std430, binding = 1) readonly buffer I { uint idx[]; };
layout(std430, binding = 1) readonly buffer I2 { uvec2 idx2[]; };
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(std430, binding = 2) writeonly buffer DX2 { vec2 dx2[]; };
layout(std430, binding = 2) writeonly buffer DX4 { vec4 dx4[]; };
layout(push_constant) uniform Params { uint planes; uint height; uint width; } p;
void main() {
    uint oh = p.height / 2, ow = p.width / 2;
    uint i = globalIndex();
    if (V == 2) {
        if (i >= p.planes * oh * ow) return;
        uint plane = i / (oh * ow), r = i % (oh * ow);
        uint oy = r / ow, ox = r % ow;
        uint first = (2 * oy) * p.width + 2 * ox;
        uint at = plane * p.height * p.width + first;
        float g = dy[i];
        uint k = idx[i] - first;  // 0, 1, width, width + 1
        dx2[at / 2] = vec2(k == 0 ? g : 0.0, k == 1 ? g : 0.0);
        dx2[(at + p.width) / 2] = vec2(k == p.width ? g : 0.0, k == p.width + 1 ? g : 0.0);
        return;
    }
    if (V == 4) {
        if (i >= p.planes * oh * ow / 2) return;
        uint plane = i / (oh * ow / 2), r = i % (oh * ow / 2);
        uint oy = r / (ow / 2), ox = 2 * (r % (ow / 2));
        uint first = (2 * oy) * p.width + 2 * ox;
        uint at = plane * p.height * p.width + first;
        vec2 g = dy2[i];
        uvec2 k = idx2[i] - uvec2(first, first + 2);
        dx4[at / 4] = vec4(k.x == 0 ? g.x : 0.0, k.x == 1 ? g.x : 0.0, k.y == 0 ? g.y : 0.0, k.y == 1 ? g.y : 0.0);
        uint w = p.width;
        dx4[(at + w) / 4] = vec4(k.x == w ? g.x : 0.0, k.x == w + 1 ? g.x : 0.0, k.y == w ? g.y : 0.0, k.y == w + 1 ? g.y : 0.0);
        return;
    }
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
