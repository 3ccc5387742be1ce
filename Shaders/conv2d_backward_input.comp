#version 450
// Gradient of conv2d (stride 1, no padding, NCHW, OIHW) to its input:
// dx[n,c,iy,ix] = sum_{o,ky,kx} dy[n,o,iy-ky,ix-kx] * w[o,c,ky,kx] over positions inside dy.
// Each invocation computes CB input channels x XB neighbouring columns of one input row (a strip).
// With SHARE (lavapipe: one 8-lane subgroup per workgroup) the 8 lanes take 8 strips of the same
// CB channels, and each weight is loaded by one lane and broadcast to the others (see
// conv2d_forward.comp). Rows of dy outside [0, outH) are read as zeros rather than skipped, so the
// lanes stay converged for the broadcasts.
// On GPUs (gemm.glsl's G_TILED) it is an implicit GEMM: C[c][(n,iy,ix)] = sum over k = (o,ky,kx) of
// w[o,c,ky,kx] * dy[n,o,iy-ky,ix-kx] (zero outside dy), through shared-memory tiles.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifndef NO_SUBGROUPS
#extension GL_KHR_shader_subgroup_ballot : require
#endif
#include "common.glsl"
layout(constant_id = 1) const uint K = 3;
layout(constant_id = 2) const uint CB = 8;
layout(constant_id = 3) const uint XB = 4;
// true: workgroup = one subgroup of 8 lanes, CB a multiple of 8.
layout(constant_id = 4) const bool SHARE = false;
// true: the ky loop is unrolled (see conv2d_forward.comp).
layout(constant_id = 5) const bool UNROLL = false;
const uint ROW = XB + K - 1;
const uint CJ = (CB + 7) / 8;
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform Params { uint batch; uint inChannels; uint outChannels; uint inHeight; uint inWidth; } p;

float acc[CB][XB];
float r[ROW];
float wMine[CJ][K];

// The implicit GEMM's operands: A[c][(o,ky,kx)] = w[o,c,ky,kx], B[(o,ky,kx)][(n,iy,ix)] = dy[n,o,iy-ky,ix-kx]
// or 0 outside dy, C = dx.
float elemA(uint c, uint k) { return w[((k / (K * K)) * p.inChannels + c) * K * K + k % (K * K)]; }
float elemB(uint k, uint j) {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    uint o = k / (K * K), ky = (k / K) % K, kx = k % K;
    uint ix = j % p.inWidth, iy = (j / p.inWidth) % p.inHeight, n = j / (p.inWidth * p.inHeight);
    int oy = int(iy) - int(ky), ox = int(ix) - int(kx);
    bool inside = oy >= 0 && oy < int(outH) && ox >= 0 && ox < int(outW);
    uint at = ((n * p.outChannels + o) * outH + uint(clamp(oy, 0, int(outH) - 1))) * outW + uint(clamp(ox, 0, int(outW) - 1));
    return inside ? dy[at] : 0.0;
}
vec4 a4(uint m, uint k) { return vec4(0.0); }  // unused: G_VA = G_VB = 1
vec4 b4(uint k, uint n) { return vec4(0.0); }
void store(uint c, uint j, float v) {
    uint plane = p.inHeight * p.inWidth;
    dx[((j / plane) * p.inChannels + c) * plane + j % plane] = v;
}
#include "gemm.glsl"

// Lane L's weights of channel slot 8j+L, broadcast to every lane, applied to the dy row segment.
#define SHARED_LANE(L) [[unroll]] for (uint kx = 0; kx < K; kx++) { \
        float wv = subgroupBroadcast(wMine[j][kx], L); \
        [[unroll]] for (uint t = 0; t < XB; t++) acc[8 * j + L][t] += wv * r[t + K - 1 - kx]; }

// Adds the products of dy row iy-ky of output channel o with kernel row ky to the accumulators.
void kernelRow(uint n, uint o, uint ky, uint iy, int firstCol, uint cOff[CB], uint mineOff[CJ]) {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    uint kk = K * K;
    int oy = int(iy) - int(ky);
    bool rowValid = oy >= 0 && oy < int(outH);
    uint rowBase = ((n * p.outChannels + o) * outH + uint(clamp(oy, 0, int(outH) - 1))) * outW;
    [[unroll]] for (uint t = 0; t < ROW; t++) {
        int ox = firstCol + int(t);
        r[t] = (rowValid && ox >= 0 && ox < int(outW)) ? dy[rowBase + uint(ox)] : 0.0;
    }
    uint wOff = o * p.inChannels * kk + ky * K;
    if (SHARE) {
        [[unroll]] for (uint j = 0; j < CJ; j++) [[unroll]] for (uint kx = 0; kx < K; kx++) wMine[j][kx] = w[wOff + mineOff[j] + kx];
        [[unroll]] for (uint j = 0; j < CJ; j++) {
            SHARED_LANE(0) SHARED_LANE(1) SHARED_LANE(2) SHARED_LANE(3)
            SHARED_LANE(4) SHARED_LANE(5) SHARED_LANE(6) SHARED_LANE(7)
        }
    } else {
        [[unroll]] for (uint kx = 0; kx < K; kx++) {
            [[unroll]] for (uint a = 0; a < CB; a++) {
                float wv = w[wOff + cOff[a] + kx];
                [[unroll]] for (uint t = 0; t < XB; t++) acc[a][t] += wv * r[t + K - 1 - kx];
            }
        }
    }
}

void main() {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    if (G_TILED) { gemm(p.inChannels, p.batch * p.inHeight * p.inWidth, p.outChannels * K * K); return; }
    uint xBlocks = (p.inWidth + XB - 1) / XB, cBlocks = (p.inChannels + CB - 1) / CB;
    uint strips = p.batch * p.inHeight * xBlocks;
    uint i = globalIndex();
    uint strip, cBlock;
    bool writer = true;
    if (SHARE) {
        // Workgroup g: channel block g % cBlocks, strips 8*(g / cBlocks) + lane. Lanes past the
        // last strip repeat it (they must stay active for the broadcasts) and write nothing.
        uint g = i / 8;
        cBlock = g % cBlocks;
        uint first = (g / cBlocks) * 8;
        if (first >= strips) return;
        strip = min(first + gl_LocalInvocationID.x, strips - 1);
        writer = first + gl_LocalInvocationID.x < strips;
    } else {
        if (i >= strips * cBlocks) return;
        strip = (i % (xBlocks * p.inHeight)) + (i / (xBlocks * p.inHeight * cBlocks)) * xBlocks * p.inHeight;
        cBlock = (i / (xBlocks * p.inHeight)) % cBlocks;
    }
    uint x0 = (strip % xBlocks) * XB;
    uint iy = (strip / xBlocks) % p.inHeight;
    uint n = strip / (xBlocks * p.inHeight);
    uint c0 = cBlock * CB;
    uint kk = K * K;
    uint cOff[CB];
    [[unroll]] for (uint a = 0; a < CB; a++) cOff[a] = min(c0 + a, p.inChannels - 1) * kk;
    uint mineOff[CJ];
    [[unroll]] for (uint j = 0; j < CJ; j++) mineOff[j] = min(c0 + 8 * j + gl_LocalInvocationID.x, p.inChannels - 1) * kk;
    [[unroll]] for (uint a = 0; a < CB; a++) [[unroll]] for (uint t = 0; t < XB; t++) acc[a][t] = 0.0;
    // dy columns x0-(K-1) .. x0+XB-1 feed this strip; those outside [0,outW) contribute 0.
    int firstCol = int(x0) - int(K - 1);
    for (uint o = 0; o < p.outChannels; o++) {
        if (UNROLL) {
            [[unroll]] for (uint ky = 0; ky < K; ky++) kernelRow(n, o, ky, iy, firstCol, cOff, mineOff);
        } else {
            for (uint ky = 0; ky < K; ky++) kernelRow(n, o, ky, iy, firstCol, cOff, mineOff);
        }
    }
    if (!writer) return;
    [[unroll]] for (uint a = 0; a < CB; a++) {
        uint c = c0 + a;
        if (c >= p.inChannels) break;
        uint base = ((n * p.inChannels + c) * p.inHeight + iy) * p.inWidth;
        [[unroll]] for (uint t = 0; t < XB; t++) {
            if (x0 + t < p.inWidth) dx[base + x0 + t] = acc[a][t];
        }
    }
}
