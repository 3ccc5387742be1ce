#version 450
// 2D convolution, stride 1, no padding, NCHW, weights OIHW (PyTorch):
// y[n,o,oy,ox] = b[o] + sum_{c,ky,kx} x[n,c,oy+ky,ox+kx] * w[o,c,ky,kx], or max(that, 0) with p.relu.
// Each invocation computes OB output channels x XB neighbouring columns of one output row (a
// "strip"), reusing each loaded input row segment across OB channels and each weight across XB
// columns. With SHARE (lavapipe: one 8-lane subgroup per workgroup) the 8 lanes take 8 strips of
// the same OB channels, and each weight is loaded by one lane and broadcast to the others, because
// llvmpipe executes a storage-buffer load one lane at a time (docs/performance.md).
// On GPUs (gemm.glsl's G_TILED) it is an implicit GEMM instead: C[o][(n,oy,ox)] = sum over
// k = (c,ky,kx) of w[o][k] * x[n,c,oy+ky,ox+kx], the same sums in the same order, through shared-memory tiles.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifndef NO_SUBGROUPS
#extension GL_KHR_shader_subgroup_ballot : require
#endif
#include "common.glsl"
layout(constant_id = 1) const uint K = 3;
layout(constant_id = 2) const uint OB = 8;
layout(constant_id = 3) const uint XB = 4;
// true: workgroup = one subgroup of 8 lanes, OB a multiple of 8.
layout(constant_id = 4) const bool SHARE = false;
// true: the ky loop is unrolled, so each accumulator is carried once per input channel instead of
// once per kernel row (llvmpipe pays per loop-carried value: worth it for small K, too much code for large).
layout(constant_id = 5) const bool UNROLL = false;
const uint ROW = XB + K - 1;
const uint OJ = (OB + 7) / 8;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
// relu != 0: the epilogue writes max(y, 0), so a following ReLU needs no pass of its own. A push constant,
// not a specialization constant: one pipeline serves both, and llvmpipe compiles it once.
layout(push_constant) uniform Params { uint batch; uint inChannels; uint outChannels; uint inHeight; uint inWidth; uint relu; } p;

float acc[OB][XB];
float r[ROW];
float wMine[OJ][K];

// The implicit GEMM's operands: A = w as [O, C*K*K], B[(c,ky,kx)][(n,oy,ox)] = x[n,c,oy+ky,ox+kx], C = y + b.
float elemA(uint o, uint k) { return w[o * p.inChannels * K * K + k]; }
float elemB(uint k, uint j) {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    uint c = k / (K * K), ky = (k / K) % K, kx = k % K;
    uint ox = j % outW, oy = (j / outW) % outH, n = j / (outW * outH);
    return x[((n * p.inChannels + c) * p.inHeight + oy + ky) * p.inWidth + ox + kx];
}
vec4 a4(uint m, uint k) { return vec4(0.0); }  // unused: G_VA = G_VB = 1
vec4 b4(uint k, uint n) { return vec4(0.0); }
void store(uint o, uint j, float v) {
    uint plane = (p.inHeight - K + 1) * (p.inWidth - K + 1);
    float s = v + b[o];
    y[((j / plane) * p.outChannels + o) * plane + j % plane] = p.relu != 0 ? max(s, 0.0) : s;
}
#include "gemm.glsl"

// Lane L's weights of channel slot 8j+L, broadcast to every lane, applied to the row segment.
#define SHARED_LANE(L) [[unroll]] for (uint kx = 0; kx < K; kx++) { \
        float wv = subgroupBroadcast(wMine[j][kx], L); \
        [[unroll]] for (uint t = 0; t < XB; t++) acc[8 * j + L][t] += wv * r[t + kx]; }

// Adds the products of kernel row ky of input channel c to the accumulators.
void kernelRow(uint rowBase, uint c, uint ky, uint x0, uint wBase[OB], uint mineBase[OJ]) {
    uint at = rowBase + (c * p.inHeight + ky) * p.inWidth;
    [[unroll]] for (uint t = 0; t < ROW; t++) r[t] = x[at + min(x0 + t, p.inWidth - 1)];
    uint wOff = (c * K + ky) * K;
    if (SHARE) {
        [[unroll]] for (uint j = 0; j < OJ; j++) [[unroll]] for (uint kx = 0; kx < K; kx++) wMine[j][kx] = w[mineBase[j] + wOff + kx];
        [[unroll]] for (uint j = 0; j < OJ; j++) {
            SHARED_LANE(0) SHARED_LANE(1) SHARED_LANE(2) SHARED_LANE(3)
            SHARED_LANE(4) SHARED_LANE(5) SHARED_LANE(6) SHARED_LANE(7)
        }
    } else {
        [[unroll]] for (uint kx = 0; kx < K; kx++) {
            [[unroll]] for (uint a = 0; a < OB; a++) {
                float wv = w[wBase[a] + wOff + kx];
                [[unroll]] for (uint t = 0; t < XB; t++) acc[a][t] += wv * r[t + kx];
            }
        }
    }
}

void main() {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    if (G_TILED) { gemm(p.outChannels, p.batch * outH * outW, p.inChannels * K * K); return; }
    uint xBlocks = (outW + XB - 1) / XB, oBlocks = (p.outChannels + OB - 1) / OB;
    uint strips = p.batch * outH * xBlocks;
    uint i = globalIndex();
    uint strip, oBlock;
    bool writer = true;
    if (SHARE) {
        // Workgroup g: channel block g % oBlocks, strips 8*(g / oBlocks) + lane. Lanes past the
        // last strip repeat it (they must stay active for the broadcasts) and write nothing.
        uint g = i / 8;
        oBlock = g % oBlocks;
        uint first = (g / oBlocks) * 8;
        if (first >= strips) return;
        strip = min(first + gl_LocalInvocationID.x, strips - 1);
        writer = first + gl_LocalInvocationID.x < strips;
    } else {
        if (i >= strips * oBlocks) return;
        strip = (i % (xBlocks * outH)) + (i / (xBlocks * outH * oBlocks)) * xBlocks * outH;
        oBlock = (i / (xBlocks * outH)) % oBlocks;
    }
    uint x0 = (strip % xBlocks) * XB;
    uint oy = (strip / xBlocks) % outH;
    uint n = strip / (xBlocks * outH);
    uint o0 = oBlock * OB;
    uint ckk = p.inChannels * K * K;
    uint wBase[OB];
    [[unroll]] for (uint a = 0; a < OB; a++) wBase[a] = min(o0 + a, p.outChannels - 1) * ckk;
    uint mineBase[OJ];
    [[unroll]] for (uint j = 0; j < OJ; j++) mineBase[j] = min(o0 + 8 * j + gl_LocalInvocationID.x, p.outChannels - 1) * ckk;
    [[unroll]] for (uint a = 0; a < OB; a++) [[unroll]] for (uint t = 0; t < XB; t++) acc[a][t] = 0.0;
    uint rowBase = (n * p.inChannels * p.inHeight + oy) * p.inWidth;
    for (uint c = 0; c < p.inChannels; c++) {
        if (UNROLL) {
            [[unroll]] for (uint ky = 0; ky < K; ky++) kernelRow(rowBase, c, ky, x0, wBase, mineBase);
        } else {
            for (uint ky = 0; ky < K; ky++) kernelRow(rowBase, c, ky, x0, wBase, mineBase);
        }
    }
    if (!writer) return;
    [[unroll]] for (uint a = 0; a < OB; a++) {
        uint o = o0 + a;
        if (o >= p.outChannels) break;
        uint outBase = ((n * p.outChannels + o) * outH + oy) * outW;
        [[unroll]] for (uint t = 0; t < XB; t++) {
            float v = acc[a][t] + b[o];
            if (x0 + t < outW) y[outBase + x0 + t] = p.relu != 0 ? max(v, 0.0) : v;
        }
    }
}
