#version 450
// Gradient of a fully connected layer to its input: dx[n,k] = sum_o dy[n,o] * w[o,k].
// Each invocation computes an NB x KB block of dx.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint NB = 4;
layout(constant_id = 2) const uint KB = 4;
// 4: each w row segment read as one vec4 (the host checks KB == 4, inFeatures % 4 == 0, alignment).
layout(constant_id = 3) const uint V = 1;
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 1) readonly buffer W4 { vec4 w4[]; };
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform Params { uint batch; uint inFeatures; uint outFeatures; } p;
void main() {
    uint nBlocks = (p.batch + NB - 1) / NB, kBlocks = (p.inFeatures + KB - 1) / KB;
    uint i = globalIndex();
    if (i >= nBlocks * kBlocks) return;
    uint n0 = (i / kBlocks) * NB, k0 = (i % kBlocks) * KB;
    float acc[NB][KB];
    uint dyRow[NB], kCol[KB];
    for (uint a = 0; a < NB; a++) dyRow[a] = min(n0 + a, p.batch - 1) * p.outFeatures;
    for (uint c = 0; c < KB; c++) kCol[c] = min(k0 + c, p.inFeatures - 1);
    for (uint a = 0; a < NB; a++) for (uint c = 0; c < KB; c++) acc[a][c] = 0.0;
    for (uint o = 0; o < p.outFeatures; o++) {
        float g[NB];
        for (uint a = 0; a < NB; a++) g[a] = dy[dyRow[a] + o];
        if (V == 4) {
            vec4 wv = w4[(o * p.inFeatures + k0) / 4];
            for (uint c = 0; c < KB; c++) for (uint a = 0; a < NB; a++) acc[a][c] += g[a] * wv[c];
        } else for (uint c = 0; c < KB; c++) {
            float wv = w[o * p.inFeatures + kCol[c]];
            for (uint a = 0; a < NB; a++) acc[a][c] += g[a] * wv;
        }
    }
    for (uint a = 0; a < NB; a++) {
        if (n0 + a >= p.batch) break;
        for (uint c = 0; c < KB; c++) {
            if (k0 + c >= p.inFeatures) break;
            dx[(n0 + a) * p.inFeatures + k0 + c] = acc[a][c];
        }
    }
}
