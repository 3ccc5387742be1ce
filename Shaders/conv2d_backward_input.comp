#version 450
// Gradient of conv2d (stride 1, no padding, NCHW, OIHW) to its input:
// dx[n,c,iy,ix] = sum_{o,ky,kx} dy[n,o,iy-ky,ix-kx] * w[o,c,ky,kx] over positions inside dy.
// Each invocation computes CB input channels x XB neighbouring columns of one input row.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 1) const uint K = 3;
layout(constant_id = 2) const uint CB = 4;
layout(constant_id = 3) const uint XB = 4;
const uint ROW = XB + K - 1;
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform Params { uint batch; uint inChannels; uint outChannels; uint inHeight; uint inWidth; } p;
void main() {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    uint xBlocks = (p.inWidth + XB - 1) / XB, cBlocks = (p.inChannels + CB - 1) / CB;
    uint i = globalIndex();
    if (i >= p.batch * cBlocks * p.inHeight * xBlocks) return;
    uint x0 = (i % xBlocks) * XB;
    uint iy = (i / xBlocks) % p.inHeight;
    uint c0 = ((i / (xBlocks * p.inHeight)) % cBlocks) * CB;
    uint n = i / (xBlocks * p.inHeight * cBlocks);
    uint cOff[CB];
    for (uint a = 0; a < CB; a++) cOff[a] = min(c0 + a, p.inChannels - 1) * K * K;
    float acc[CB][XB];
    for (uint a = 0; a < CB; a++) for (uint t = 0; t < XB; t++) acc[a][t] = 0.0;
    // dy columns x0-(K-1) .. x0+XB-1 feed this block; those outside [0,outW) contribute 0.
    int firstCol = int(x0) - int(K - 1);
    for (uint o = 0; o < p.outChannels; o++) {
        for (uint ky = 0; ky < K; ky++) {
            int oy = int(iy) - int(ky);
            if (oy < 0 || oy >= int(outH)) continue;
            uint rowBase = ((n * p.outChannels + o) * outH + uint(oy)) * outW;
            float r[ROW];
            for (uint t = 0; t < ROW; t++) {
                int ox = firstCol + int(t);
                r[t] = (ox >= 0 && ox < int(outW)) ? dy[rowBase + uint(ox)] : 0.0;
            }
            uint wOff = o * p.inChannels * K * K + ky * K;
            for (uint kx = 0; kx < K; kx++) {
                for (uint a = 0; a < CB; a++) {
                    float wv = w[wOff + cOff[a] + kx];
                    for (uint t = 0; t < XB; t++) acc[a][t] += wv * r[t + K - 1 - kx];
                }
            }
        }
    }
    for (uint a = 0; a < CB; a++) {
        uint c = c0 + a;
        if (c >= p.inChannels) break;
        uint base = ((n * p.inChannels + c) * p.inHeight + iy) * p.inWidth;
        for (uint t = 0; t < XB; t++) {
            if (x0 + t < p.inWidth) dx[base + x0 + t] = acc[a][t];
        }
    }
}
