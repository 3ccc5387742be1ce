#version 450
// Gradient of conv2d (stride 1, no padding, NCHW, OIHW) to its parameters:
// dw[o,c,ky,kx] = sum_{n,oy,ox} dy[n,o,oy,ox] * x[n,c,oy+ky,ox+kx]; db[o] = sum_{n,oy,ox} dy[n,o,oy,ox].
// Each invocation reduces OB output channels x K taps of one (c, ky) over the whole batch, sliding
// a K-wide window along each input row; the last `outChannels` invocations compute db. No atomics.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint K = 3;
layout(constant_id = 2) const uint OB = 4;
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer DW { float dw[]; };
layout(std430, binding = 3) writeonly buffer DB { float db[]; };
layout(push_constant) uniform Params { uint batch; uint inChannels; uint outChannels; uint inHeight; uint inWidth; } p;
void main() {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    uint oBlocks = (p.outChannels + OB - 1) / OB;
    uint weightInvocations = oBlocks * p.inChannels * K;
    uint i = globalIndex();
    if (i >= weightInvocations) {
        uint o = i - weightInvocations;
        if (o >= p.outChannels) return;
        float s = 0.0;
        for (uint n = 0; n < p.batch; n++) {
            uint base = (n * p.outChannels + o) * outH * outW;
            for (uint j = 0; j < outH * outW; j++) s += dy[base + j];
        }
        db[o] = s;
        return;
    }
    uint ky = i % K;
    uint c = (i / K) % p.inChannels;
    uint o0 = (i / (K * p.inChannels)) * OB;
    uint oCh[OB];
    for (uint a = 0; a < OB; a++) oCh[a] = min(o0 + a, p.outChannels - 1);
    float acc[OB][K];
    for (uint a = 0; a < OB; a++) for (uint kx = 0; kx < K; kx++) acc[a][kx] = 0.0;
    for (uint n = 0; n < p.batch; n++) {
        for (uint oy = 0; oy < outH; oy++) {
            uint xRow = ((n * p.inChannels + c) * p.inHeight + oy + ky) * p.inWidth;
            uint dyRow[OB];
            for (uint a = 0; a < OB; a++) dyRow[a] = ((n * p.outChannels + oCh[a]) * outH + oy) * outW;
            float r[K];
            for (uint kx = 0; kx + 1 < K; kx++) r[kx + 1] = x[xRow + kx];
            for (uint ox = 0; ox < outW; ox++) {
                for (uint kx = 0; kx + 1 < K; kx++) r[kx] = r[kx + 1];
                r[K - 1] = x[xRow + ox + K - 1];
                for (uint a = 0; a < OB; a++) {
                    float g = dy[dyRow[a] + ox];
                    for (uint kx = 0; kx < K; kx++) acc[a][kx] += g * r[kx];
                }
            }
        }
    }
    for (uint a = 0; a < OB; a++) {
        uint o = o0 + a;
        if (o >= p.outChannels) break;
        for (uint kx = 0; kx < K; kx++) dw[((o * p.inChannels + c) * K + ky) * K + kx] = acc[a][kx];
    }
}
