#version 450
// 2D convolution, stride 1, no padding, NCHW, weights OIHW (PyTorch):
// y[n,o,oy,ox] = b[o] + sum_{c,ky,kx} x[n,c,oy+ky,ox+kx] * w[o,c,ky,kx].
// Each invocation computes OB output channels x XB neighbouring columns of one output row, reusing
// each loaded input row segment across OB channels and each weight across XB columns.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint K = 3;
layout(constant_id = 2) const uint OB = 4;
layout(constant_id = 3) const uint XB = 4;
const uint ROW = XB + K - 1;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint batch; uint inChannels; uint outChannels; uint inHeight; uint inWidth; } p;
void main() {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    uint xBlocks = (outW + XB - 1) / XB, oBlocks = (p.outChannels + OB - 1) / OB;
    uint i = globalIndex();
    if (i >= p.batch * oBlocks * outH * xBlocks) return;
    uint x0 = (i % xBlocks) * XB;
    uint oy = (i / xBlocks) % outH;
    uint o0 = ((i / (xBlocks * outH)) % oBlocks) * OB;
    uint n = i / (xBlocks * outH * oBlocks);
    uint wBase[OB];
    for (uint a = 0; a < OB; a++) wBase[a] = min(o0 + a, p.outChannels - 1) * p.inChannels * K * K;
    float acc[OB][XB];
    for (uint a = 0; a < OB; a++) for (uint t = 0; t < XB; t++) acc[a][t] = 0.0;
    for (uint c = 0; c < p.inChannels; c++) {
        for (uint ky = 0; ky < K; ky++) {
            uint rowBase = ((n * p.inChannels + c) * p.inHeight + oy + ky) * p.inWidth;
            float r[ROW];
            for (uint t = 0; t < ROW; t++) r[t] = x[rowBase + min(x0 + t, p.inWidth - 1)];
            uint wOff = (c * K + ky) * K;
            for (uint kx = 0; kx < K; kx++) {
                for (uint a = 0; a < OB; a++) {
                    float wv = w[wBase[a] + wOff + kx];
                    for (uint t = 0; t < XB; t++) acc[a][t] += wv * r[t + kx];
                }
            }
        }
    }
    for (uint a = 0; a < OB; a++) {
        uint o = o0 + a;
        if (o >= p.outChannels) break;
        uint outBase = ((n * p.outChannels + o) * outH + oy) * outW;
        for (uint t = 0; t < XB; t++) {
            if (x0 + t < outW) y[outBase + x0 + t] = acc[a][t] + b[o];
        }
    }
}
