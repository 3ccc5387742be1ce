#version 450
// Fully connected layer: y[n,o] = b[o] + sum_k x[n,k] * w[o,k]; x is [batch,in], w is [out,in] (PyTorch).
// Each invocation computes an NB x OB block of y in registers.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint NB = 4;
layout(constant_id = 2) const uint OB = 4;
// 4: rows of x and w read as vec4 (the host checks inFeatures % 4 == 0 and alignment); the sums
// keep the scalar order, so both paths give the same bits.
layout(constant_id = 3) const uint V = 1;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 1) readonly buffer W4 { vec4 w4[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint batch; uint inFeatures; uint outFeatures; } p;
void main() {
    uint nBlocks = (p.batch + NB - 1) / NB, oBlocks = (p.outFeatures + OB - 1) / OB;
    uint i = globalIndex();
    if (i >= nBlocks * oBlocks) return;
    uint n0 = (i / oBlocks) * NB, o0 = (i % oBlocks) * OB;
    float acc[NB][OB];
    uint xRow[NB], wRow[OB];
    for (uint a = 0; a < NB; a++) { xRow[a] = min(n0 + a, p.batch - 1) * p.inFeatures; }
    for (uint c = 0; c < OB; c++) { wRow[c] = min(o0 + c, p.outFeatures - 1) * p.inFeatures; }
    for (uint a = 0; a < NB; a++) for (uint c = 0; c < OB; c++) acc[a][c] = 0.0;
    if (V == 4) {
        for (uint k = 0; k < p.inFeatures; k += 4) {
            vec4 xv[NB];
            for (uint a = 0; a < NB; a++) xv[a] = x4[(xRow[a] + k) / 4];
            for (uint c = 0; c < OB; c++) {
                vec4 wv = w4[(wRow[c] + k) / 4];
                for (uint a = 0; a < NB; a++) {
                    acc[a][c] += xv[a].x * wv.x; acc[a][c] += xv[a].y * wv.y;
                    acc[a][c] += xv[a].z * wv.z; acc[a][c] += xv[a].w * wv.w;
                }
            }
        }
    } else for (uint k = 0; k < p.inFeatures; k++) {
        float xv[NB];
        for (uint a = 0; a < NB; a++) xv[a] = x[xRow[a] + k];
        for (uint c = 0; c < OB; c++) {
            float wv = w[wRow[c] + k];
            for (uint a = 0; a < NB; a++) acc[a][c] += xv[a] * wv;
        }
    }
    for (uint a = 0; a < NB; a++) {
        if (n0 + a >= p.batch) break;
        for (uint c = 0; c < OB; c++) {
            if (o0 + c >= p.outFeatures) break;
            y[(n0 + a) * p.outFeatures + o0 + c] = acc[a][c] + b[o0 + c];
        }
    }
}
