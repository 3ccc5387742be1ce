#version 450
// Gradient of conv2d (stride 1, no padding, NCHW, OIHW) to its parameters:
// dw[o,c,ky,kx] = sum_{n,oy,ox} dy[n,o,oy,ox] * x[n,c,oy+ky,ox+kx]; db[o] = sum_{n,oy,ox} dy[n,o,oy,ox].
// Each invocation reduces OL output channels x CB input channels x all K*K taps over the whole batch,
// walking every dy row in chunks of XC columns; db is reduced alongside by the invocations of
// input-channel block 0. With SHARE (lavapipe: one 8-lane subgroup per workgroup) lane l takes
// channels o0+l, o0+8+l, ... and each x row segment is loaded once, spread over the lanes, and
// broadcast (see conv2d_forward.comp). Each sum runs in a fixed order: no atomics.
// ROWS > 0 splits the reduction for GPUs: the batch's dy rows (n, oy) in chunks of ROWS, one chunk per
// invocation; chunk h writes its partial sums at dw[h * O*C*K*K ...] and db[h * O ...] (scratch), and
// chunk_sum adds the chunks in order. ROWS = 0: one chunk of all rows, written to dw and db themselves.
// On GPUs (gemm.glsl's G_TILED) it is an implicit GEMM: C[o][(c,ky,kx)] = sum over k = (n,oy,ox) of
// dy[n,o,oy,ox] * x[n,c,oy+ky,ox+kx], db the row sums of A = dy; G_KCHUNK splits k into chunks written
// to scratch like ROWS's (chunk gemmChunk at dw[gemmChunk * O*C*K*K ...], db[gemmChunk * O ...]).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifndef NO_SUBGROUPS
#extension GL_KHR_shader_subgroup_ballot : require
#endif
#include "common.glsl"
layout(constant_id = 1) const uint K = 3;
layout(constant_id = 2) const uint OL = 2;   // output channels per invocation
layout(constant_id = 3) const uint CB = 2;   // input channels per invocation
layout(constant_id = 4) const uint XC = 8;   // dy columns per chunk
// true: workgroup = one subgroup of 8 lanes.
layout(constant_id = 5) const bool SHARE = false;
// dy loaded as vec4 (4) or vec2 (2): the host checks outW % DV == 0, XC % DV == 0 and alignment.
layout(constant_id = 6) const uint DV = 1;
layout(constant_id = 7) const uint ROWS = 0;
const uint SEG = XC + K - 1;
const uint SM = (SEG + 7) / 8;
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 0) readonly buffer DY2 { vec2 dy2[]; };
layout(std430, binding = 0) readonly buffer DY4 { vec4 dy4[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer DW { float dw[]; };
layout(std430, binding = 3) writeonly buffer DB { float db[]; };
layout(push_constant) uniform Params { uint batch; uint inChannels; uint outChannels; uint inHeight; uint inWidth; } p;

float acc[OL][CB][K][K];
float g[OL][XC];
float seg[SEG];
float mine[SM];

// The implicit GEMM's operands: A[o][(n,oy,ox)] = dy[n,o,oy,ox], B[(n,oy,ox)][(c,ky,kx)] = x[n,c,oy+ky,ox+kx]
// (contiguous along k), C = dw as [O, C*K*K], row sums of A = db.
float elemA(uint o, uint k) {
    uint plane = (p.inHeight - K + 1) * (p.inWidth - K + 1);
    return dy[((k / plane) * p.outChannels + o) * plane + k % plane];
}
float elemB(uint k, uint j) {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    uint ox = k % outW, oy = (k / outW) % outH, n = k / (outW * outH);
    uint c = j / (K * K), ky = (j / K) % K, kx = j % K;
    return x[((n * p.inChannels + c) * p.inHeight + oy + ky) * p.inWidth + ox + kx];
}
vec4 a4(uint m, uint k) { return vec4(0.0); }  // unused: G_VA = G_VB = 1
vec4 b4(uint k, uint n) { return vec4(0.0); }
void store(uint o, uint j, float v) {
    uint ckk = p.inChannels * K * K;
    dw[gemmChunk * p.outChannels * ckk + o * ckk + j] = v;
}
void storeRowSum(uint o, float s) { db[gemmChunk * p.outChannels + o] = s; }
#define GEMM_B_ALONG_K
#define GEMM_ROW_SUMS
#include "gemm.glsl"

// x segment element s = 8m+L (from lane L when shared) times the dy values it meets at each tap.
#define TAP(L) { uint s = 8 * m + L; if (s < SEG) { \
        float xv = SHARE ? subgroupBroadcast(mine[m], L) : seg[s]; \
        [[unroll]] for (uint kx = 0; kx < K; kx++) { \
            if (s >= kx && s - kx < XC) { \
                [[unroll]] for (uint j = 0; j < OL; j++) acc[j][a][ky][kx] += g[j][s - kx] * xv; } } } }

void main() {
    uint outH = p.inHeight - K + 1, outW = p.inWidth - K + 1;
    if (G_TILED) { gemm(p.outChannels, p.inChannels * K * K, p.batch * outH * outW); return; }
    uint oPer = SHARE ? 8 * OL : OL;
    uint oBlocks = (p.outChannels + oPer - 1) / oPer, cBlocks = (p.inChannels + CB - 1) / CB;
    uint i = globalIndex();
    uint lane = SHARE ? gl_LocalInvocationID.x : 0;
    uint block = SHARE ? i / 8 : i;
    uint rows = p.batch * outH;
    uint chunk = ROWS > 0 ? block / (oBlocks * cBlocks) : 0;
    block = ROWS > 0 ? block % (oBlocks * cBlocks) : block;
    if (block >= oBlocks * cBlocks || chunk * ROWS >= max(rows, 1)) return;
    uint rowEnd = ROWS > 0 ? min(rows, (chunk + 1) * ROWS) : rows;
    uint dwBase = chunk * p.outChannels * p.inChannels * K * K, dbBase = chunk * p.outChannels;
    uint c0 = (block % cBlocks) * CB;
    uint oBlock = block / cBlocks;
    // Channel of slot j: o0 + lane + 8j when shared, o0 + j otherwise.
    uint oCh[OL];
    bool oValid[OL];
    [[unroll]] for (uint j = 0; j < OL; j++) {
        uint o = SHARE ? oBlock * oPer + lane + 8 * j : oBlock * oPer + j;
        oValid[j] = o < p.outChannels;
        oCh[j] = min(o, p.outChannels - 1);
    }
    uint cCh[CB];
    [[unroll]] for (uint a = 0; a < CB; a++) cCh[a] = min(c0 + a, p.inChannels - 1);
    [[unroll]] for (uint j = 0; j < OL; j++) [[unroll]] for (uint a = 0; a < CB; a++)
        [[unroll]] for (uint ky = 0; ky < K; ky++) [[unroll]] for (uint kx = 0; kx < K; kx++) acc[j][a][ky][kx] = 0.0;
    float dbAcc[OL];
    [[unroll]] for (uint j = 0; j < OL; j++) dbAcc[j] = 0.0;
    for (uint r = chunk * ROWS; r < rowEnd; r++) {
        uint n = r / outH, oy = r % outH;
        {
            for (uint x0 = 0; x0 < outW; x0 += XC) {
                // dy columns past the row's end read as zero, so the x values they meet add nothing.
                [[unroll]] for (uint j = 0; j < OL; j++) {
                    uint at = ((n * p.outChannels + oCh[j]) * outH + oy) * outW + x0;
                    if (DV == 4) {
                        [[unroll]] for (uint t = 0; t < XC; t += 4) {
                            vec4 v = x0 + t < outW ? dy4[(at + t) / 4] : vec4(0.0);
                            g[j][t] = v.x; g[j][t + 1] = v.y; g[j][t + 2] = v.z; g[j][t + 3] = v.w;
                        }
                    } else if (DV == 2) {
                        [[unroll]] for (uint t = 0; t < XC; t += 2) {
                            vec2 v = x0 + t < outW ? dy2[(at + t) / 2] : vec2(0.0);
                            g[j][t] = v.x; g[j][t + 1] = v.y;
                        }
                    } else {
                        [[unroll]] for (uint t = 0; t < XC; t++) g[j][t] = x0 + t < outW ? dy[at + t] : 0.0;
                    }
                    [[unroll]] for (uint t = 0; t < XC; t++) dbAcc[j] += g[j][t];
                }
                [[unroll]] for (uint a = 0; a < CB; a++) {
                    [[unroll]] for (uint ky = 0; ky < K; ky++) {
                        uint rowAt = ((n * p.inChannels + cCh[a]) * p.inHeight + oy + ky) * p.inWidth;
                        if (SHARE) {
                            [[unroll]] for (uint m = 0; m < SM; m++) mine[m] = x[rowAt + min(x0 + 8 * m + lane, p.inWidth - 1)];
                        } else {
                            [[unroll]] for (uint s = 0; s < SEG; s++) seg[s] = x[rowAt + min(x0 + s, p.inWidth - 1)];
                        }
                        [[unroll]] for (uint m = 0; m < SM; m++) {
                            TAP(0) TAP(1) TAP(2) TAP(3) TAP(4) TAP(5) TAP(6) TAP(7)
                        }
                    }
                }
            }
        }
    }
    [[unroll]] for (uint j = 0; j < OL; j++) {
        if (!oValid[j]) continue;
        uint o = oCh[j];
        if (c0 == 0) db[dbBase + o] = dbAcc[j];
        [[unroll]] for (uint a = 0; a < CB; a++) {
            if (c0 + a >= p.inChannels) break;
            [[unroll]] for (uint ky = 0; ky < K; ky++) [[unroll]] for (uint kx = 0; kx < K; kx++)
                dw[dwBase + ((o * p.inChannels + c0 + a) * K + ky) * K + kx] = acc[j][a][ky][kx];
        }
    }
}
