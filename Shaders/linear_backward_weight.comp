#version 450
// Gradient of a fully connected layer to its parameters: dw[o,k] = sum_n dy[n,o] * x[n,k] and
// db[o] = sum_n dy[n,o]. Each invocation computes an OB x KB block of dw; the last `outFeatures`
// invocations compute db, one each. Every element is reduced by one invocation: no atomics.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint OB = 4;
layout(constant_id = 2) const uint KB = 4;
// 4: each x row segment read as one vec4 (the host checks KB == 4, inFeatures % 4 == 0, alignment).
layout(constant_id = 3) const uint V = 1;
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 2) writeonly buffer DW { float dw[]; };
layout(std430, binding = 3) writeonly buffer DB { float db[]; };
layout(push_constant) uniform Params { uint batch; uint inFeatures; uint outFeatures; } p;
void main() {
    uint oBlocks = (p.outFeatures + OB - 1) / OB, kBlocks = (p.inFeatures + KB - 1) / KB;
    uint i = globalIndex();
    if (i >= oBlocks * kBlocks) {
        uint o = i - oBlocks * kBlocks;
        if (o >= p.outFeatures) return;
        float s = 0.0;
        for (uint n = 0; n < p.batch; n++) s += dy[n * p.outFeatures + o];
        db[o] = s;
        return;
    }
    uint o0 = (i / kBlocks) * OB, k0 = (i % kBlocks) * KB;
    float acc[OB][KB];
    uint oCol[OB], kCol[KB];
    for (uint a = 0; a < OB; a++) oCol[a] = min(o0 + a, p.outFeatures - 1);
    for (uint c = 0; c < KB; c++) kCol[c] = min(k0 + c, p.inFeatures - 1);
    for (uint a = 0; a < OB; a++) for (uint c = 0; c < KB; c++) acc[a][c] = 0.0;
    for (uint n = 0; n < p.batch; n++) {
        float g[OB];
        for (uint a = 0; a < OB; a++) g[a] = dy[n * p.outFeatures + oCol[a]];
        if (V == 4) {
            vec4 xv = x4[(n * p.inFeatures + k0) / 4];
            for (uint c = 0; c < KB; c++) for (uint a = 0; a < OB; a++) acc[a][c] += g[a] * xv[c];
        } else for (uint c = 0; c < KB; c++) {
            float xv = x[n * p.inFeatures + kCol[c]];
            for (uint a = 0; a < OB; a++) acc[a][c] += g[a] * xv;
        }
    }
    for (uint a = 0; a < OB; a++) {
        if (o0 + a >= p.outFeatures) break;
        for (uint c = 0; c < KB; c++) {
            if (k0 + c >= p.inFeatures) break;
            dw[(o0 + a) * p.inFeatures + k0 + c] = acc[a][c];
        }
    }
}
