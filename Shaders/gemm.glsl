// C[m,n] = sum_k A[m,k] * B[k,n], the core of every GEMM-shaped shader: sgemm.comp, the three linear_*
// shaders, and on GPUs the three conv2d_* shaders as implicit GEMMs (their elemA / elemB index the
// tensors directly; no im2col buffer). Every element of C is one sum over k = 0..KN-1 in ascending order,
// kept in one invocation's registers: deterministic, no atomics, and the G_SHARE, portable and G_TILED
// paths give the same sums in the same order (G_KCHUNK splits it into chunks added by chunk_sum).
//
// The including shader defines, before `#include "gemm.glsl"`:
//   float elemA(uint m, uint k), float elemB(uint k, uint n)   scalar loads (indices in range)
//   vec4 a4(uint m, uint k)   four A values as one vec4 load: A[m][k..k+3], or with GEMM_A_ALONG_M
//                             A[m..m+3][k] (used when G_VA == 4; the host checks the layout allows it)
//   vec4 b4(uint k, uint n)   B[k][n..n+3], or with GEMM_B_ALONG_K B[k..k+3][n] (when G_VB == 4)
//   void store(uint m, uint n, float v)
//   with GEMM_ROW_SUMS also void storeRowSum(uint m, float s): s = sum_k A[m,k], same order.
// and requires GL_KHR_shader_subgroup_ballot and GL_EXT_control_flow_attributes.
//
// G_SHARE (lavapipe, where every storage-buffer load runs one lane at a time, docs/performance.md):
// a workgroup is one 8-lane subgroup owning G_MB rows x 8*G_NC columns of C; each lane keeps G_MB x G_NC
// sums in registers. Per 4 steps of k, each lane loads G_MB/8 vec4s of A and hands them to the others
// with subgroupBroadcast, and reads its own G_NC columns of B. Every load costs per lane there, so the
// tile is chosen for few loads per multiply-add: (G_MB/8 + G_NC) / (G_MB * G_NC) per lane and step of k.
// Portable: one invocation per G_MB x G_NC block, scalar loads, no subgroup operations (lavapipe with
// subgroups of other than 8 lanes, and a few images' inference there).
// G_TILED (GPUs): shared-memory tiles, below.

// The core's specialization constants have ids 11-19, so that a shader with constants of its own (the
// convolutions, as implicit GEMMs) can include it; ids 1-10 are the including shader's.
// true: workgroup = one subgroup of 8 lanes, G_MB a multiple of 8.
layout(constant_id = 11) const bool G_SHARE = false;
layout(constant_id = 12) const uint G_NC = 4;   // columns per lane (G_SHARE: a multiple of 4) / per invocation
layout(constant_id = 13) const uint G_MB = 4;   // rows per invocation (portable, G_TILED) / per workgroup (G_SHARE)
layout(constant_id = 14) const uint G_VA = 1;   // 4: A read with a4()
layout(constant_id = 15) const uint G_VB = 1;   // 4: B read with b4()
// G_TILED (GPUs): the workgroup's G_TR x G_TC invocations own a G_BM x G_BN tile of C (G_BM = G_TR*G_MB, G_BN = G_TC*G_NC);
// per G_BK steps of k they copy A[tile rows][k..] and B[k..][tile columns] into shared memory together,
// then each sums its G_MB x G_NC elements from there (rows tr, tr+G_TR, ..., columns tc, tc+G_TC, ...: neighbouring
// invocations read neighbouring columns, and one row value is broadcast to a row of invocations).
layout(constant_id = 16) const bool G_TILED = false;
layout(constant_id = 17) const uint G_TC = 1;   // G_TILED: invocations along N (the workgroup size a multiple of it)
layout(constant_id = 18) const uint G_BK = 1;   // G_TILED: steps of k per shared-memory stage
// G_KCHUNK > 0 (G_TILED): the sum over k is split into chunks of G_KCHUNK steps, one per tile and chunk; the
// including shader's store() writes chunk gemmChunk's partial sums (to scratch, added by chunk_sum;
// gemmChunk is declared in common.glsl so that store() can read it).
layout(constant_id = 19) const uint G_KCHUNK = 0;
const uint G_TR = (gl_WorkGroupSize.x + G_TC - 1) / G_TC;
const uint G_BM = G_TR * G_MB, G_BN = G_TC * G_NC;
shared float tileA[G_BK * G_BM];
shared float tileB[G_BK * G_BN];

const uint G_RJ = (G_MB + 7) / 8;  // G_SHARE: rows of A each lane loads per step
float gAcc[G_MB][G_NC];
vec4 gMine[G_RJ];       // G_SHARE: this lane's loads of A
float gBk[4][G_NC];     // G_SHARE: B[k..k+3][this lane's columns]
#ifdef GEMM_ROW_SUMS
float gRowSum[G_MB];
#endif
uint gCol[G_NC];        // this invocation's columns of C (clamped into range)
float gAv[G_MB];        // A[rows of the tile][k] for one step of k

void clearTile() {
    [[unroll]] for (uint r = 0; r < G_MB; r++) [[unroll]] for (uint c = 0; c < G_NC; c++) gAcc[r][c] = 0.0;
#ifdef GEMM_ROW_SUMS
    [[unroll]] for (uint r = 0; r < G_MB; r++) gRowSum[r] = 0.0;
#endif
}

// One step k with gAv: gAcc += gAv x B[k][gCol] (and the row sums), one scalar load of B per column.
void stepOne(uint k) {
    [[unroll]] for (uint c = 0; c < G_NC; c++) {
        float bv = elemB(k, gCol[c]);
        [[unroll]] for (uint r = 0; r < G_MB; r++) gAcc[r][c] += gAv[r] * bv;
    }
#ifdef GEMM_ROW_SUMS
    [[unroll]] for (uint r = 0; r < G_MB; r++) gRowSum[r] += gAv[r];
#endif
}

// Writes the tile's sums inside C (rows from m0, columns from n0); the row sums too where `sums`.
void storeTile(uint M, uint N, uint m0, uint n0, bool sums) {
    [[unroll]] for (uint r = 0; r < G_MB; r++) {
        if (m0 + r >= M) break;
        [[unroll]] for (uint c = 0; c < G_NC; c++) if (n0 + c < N) store(m0 + r, n0 + c, gAcc[r][c]);
#ifdef GEMM_ROW_SUMS
        if (sums) storeRowSum(m0 + r, gRowSum[r]);
#endif
    }
}

#ifdef GEMM_ROW_SUMS
#define GEMM_ROW_SUM(r, v) gRowSum[r] += v;
#else
#define GEMM_ROW_SUM(r, v)
#endif
// Lane R's vec4s A[m0+8j+R][k..k+3] to every lane, each used at once (few values live at a time).
#define GEMM_ROW(R) [[unroll]] for (uint j = 0; j < G_RJ; j++) { vec4 a = subgroupBroadcast(gMine[j], R); \
    [[unroll]] for (uint kk = 0; kk < 4; kk++) { \
        [[unroll]] for (uint c = 0; c < G_NC; c++) gAcc[8 * j + R][c] += a[kk] * gBk[kk][c]; \
        GEMM_ROW_SUM(8 * j + R, a[kk]) } }
// Lanes KK (rows 8j+0..3) and KK+4 (rows 8j+4..7) hold A[..][k+KK]: to every lane.
#define GEMM_STEP(KK) [[unroll]] for (uint j = 0; j < G_RJ; j++) { \
    vec4 lo = subgroupBroadcast(gMine[j], KK), hi = subgroupBroadcast(gMine[j], KK + 4); \
    [[unroll]] for (uint i = 0; i < 4; i++) { \
        [[unroll]] for (uint c = 0; c < G_NC; c++) { gAcc[8 * j + i][c] += lo[i] * gBk[KK][c]; gAcc[8 * j + 4 + i][c] += hi[i] * gBk[KK][c]; } \
        GEMM_ROW_SUM(8 * j + i, lo[i]) GEMM_ROW_SUM(8 * j + 4 + i, hi[i]) } }
#define GEMM_ONE(R) [[unroll]] for (uint j = 0; j < G_RJ; j++) gAv[8 * j + R] = subgroupBroadcast(gOne[j], R);

void gemmShare(uint M, uint N, uint KN) {
    uint lane = SUBGROUP_LANE;
    uint nBlocks = (N + 8 * G_NC - 1) / (8 * G_NC), mBlocks = (M + G_MB - 1) / G_MB;
    uint g = globalIndex() / 8;
    if (g >= mBlocks * nBlocks) return;  // whole workgroups only: the lanes stay together
    uint m0 = (g / nBlocks) * G_MB, n0 = (g % nBlocks) * 8 * G_NC + lane * G_NC;
    // Lanes and rows past the edges load clamped (valid) elements and write nothing.
    [[unroll]] for (uint c = 0; c < G_NC; c++) gCol[c] = min(n0 + c, N - 1);
    uint myRow[G_RJ];
    [[unroll]] for (uint j = 0; j < G_RJ; j++) myRow[j] = min(m0 + 8 * j + lane, M - 1);
    clearTile();
    uint k = 0;
    for (; k + 4 <= KN; k += 4) {
#ifdef GEMM_B_ALONG_K
        [[unroll]] for (uint c = 0; c < G_NC; c++) {
            vec4 v = G_VB == 4 ? b4(k, gCol[c]) : vec4(elemB(k, gCol[c]), elemB(k + 1, gCol[c]), elemB(k + 2, gCol[c]), elemB(k + 3, gCol[c]));
            [[unroll]] for (uint kk = 0; kk < 4; kk++) gBk[kk][c] = v[kk];
        }
#else
        [[unroll]] for (uint kk = 0; kk < 4; kk++) {
            if (G_VB == 4) {
                // N % 4 == 0: a group past the edge reads the last whole vec4 instead.
                [[unroll]] for (uint j = 0; j < G_NC / 4; j++) {
                    vec4 v = b4(k + kk, min(n0 + 4 * j, N - 4));
                    gBk[kk][4 * j] = v.x; gBk[kk][4 * j + 1] = v.y; gBk[kk][4 * j + 2] = v.z; gBk[kk][4 * j + 3] = v.w;
                }
            } else {
                [[unroll]] for (uint c = 0; c < G_NC; c++) gBk[kk][c] = elemB(k + kk, gCol[c]);
            }
        }
#endif
#ifdef GEMM_A_ALONG_M
        // Lane L loads A[m0+8j+4*(L/4) .. +3][k + L%4]. M % 4 == 0 for a4, so a clamped start
        // only ever feeds rows >= M.
        uint ka = k + (lane & 3u);
        [[unroll]] for (uint j = 0; j < G_RJ; j++) {
            uint ma = m0 + 8 * j + 4 * (lane >> 2);
            gMine[j] = G_VA == 4 ? a4(min(ma, M - 4), ka)
                : vec4(elemA(min(ma, M - 1), ka), elemA(min(ma + 1, M - 1), ka), elemA(min(ma + 2, M - 1), ka), elemA(min(ma + 3, M - 1), ka));
        }
        GEMM_STEP(0) GEMM_STEP(1) GEMM_STEP(2) GEMM_STEP(3)
#else
        [[unroll]] for (uint j = 0; j < G_RJ; j++) {
            uint m = myRow[j];
            gMine[j] = G_VA == 4 ? a4(m, k) : vec4(elemA(m, k), elemA(m, k + 1), elemA(m, k + 2), elemA(m, k + 3));
        }
        GEMM_ROW(0) GEMM_ROW(1) GEMM_ROW(2) GEMM_ROW(3) GEMM_ROW(4) GEMM_ROW(5) GEMM_ROW(6) GEMM_ROW(7)
#endif
    }
    for (; k < KN; k++) {
        // The last KN % 4 steps, one at a time: lane L loads A[m0+8j+L][k].
        float gOne[G_RJ];
        [[unroll]] for (uint j = 0; j < G_RJ; j++) gOne[j] = elemA(myRow[j], k);
        GEMM_ONE(0) GEMM_ONE(1) GEMM_ONE(2) GEMM_ONE(3) GEMM_ONE(4) GEMM_ONE(5) GEMM_ONE(6) GEMM_ONE(7)
        stepOne(k);
    }
    storeTile(M, N, m0, n0, g % nBlocks == 0 && lane == 0);
}

void gemmPortable(uint M, uint N, uint KN) {
    uint nBlocks = (N + G_NC - 1) / G_NC, mBlocks = (M + G_MB - 1) / G_MB;
    uint i = globalIndex();
    if (i >= mBlocks * nBlocks) return;
    uint m0 = (i / nBlocks) * G_MB, n0 = (i % nBlocks) * G_NC;
    uint row[G_MB];
    [[unroll]] for (uint r = 0; r < G_MB; r++) row[r] = min(m0 + r, M - 1);
    [[unroll]] for (uint c = 0; c < G_NC; c++) gCol[c] = min(n0 + c, N - 1);
    clearTile();
    for (uint k = 0; k < KN; k++) {
        [[unroll]] for (uint r = 0; r < G_MB; r++) gAv[r] = elemA(row[r], k);
        stepOne(k);
    }
    storeTile(M, N, m0, n0, n0 == 0);
}

// One stage's copy into shared memory: A[m0..m0+G_BM)[k0..k0+G_BK) as tileA[kk * G_BM + mm] and B[k0..k0+G_BK)[n0..n0+G_BN)
// as tileB[kk * G_BN + nn], zero outside C or past kEnd. Neighbouring invocations read neighbouring
// elements along the operand's contiguous axis (GEMM_A_ALONG_M / GEMM_B_ALONG_K say which it is).
void loadStage(uint M, uint N, uint m0, uint n0, uint k0, uint kEnd, uint t) {
    const uint G_WG = gl_WorkGroupSize.x;
    [[unroll]] for (uint i = 0; i < (G_BM * G_BK + G_WG - 1) / G_WG; i++) {
        uint e = i * G_WG + t;
#ifdef GEMM_A_ALONG_M
        uint mm = e % G_BM, kk = e / G_BM;
#else
        uint kk = e % G_BK, mm = e / G_BK;
#endif
        uint m = m0 + mm, k = k0 + kk;
        if (e < G_BM * G_BK) tileA[kk * G_BM + mm] = m < M && k < kEnd ? elemA(min(m, M - 1), min(k, kEnd - 1)) : 0.0;
    }
    [[unroll]] for (uint i = 0; i < (G_BN * G_BK + G_WG - 1) / G_WG; i++) {
        uint e = i * G_WG + t;
#ifdef GEMM_B_ALONG_K
        uint kk = e % G_BK, nn = e / G_BK;
#else
        uint nn = e % G_BN, kk = e / G_BN;
#endif
        uint n = n0 + nn, k = k0 + kk;
        if (e < G_BN * G_BK) tileB[kk * G_BN + nn] = n < N && k < kEnd ? elemB(min(k, kEnd - 1), min(n, N - 1)) : 0.0;
    }
}

// Step kk of the stage in shared memory: gAcc += A[rows][k] x B[k][columns] (and the row sums).
void stageStep(uint kk, uint tr, uint tc) {
    [[unroll]] for (uint r = 0; r < G_MB; r++) gAv[r] = tileA[kk * G_BM + tr + r * G_TR];
    [[unroll]] for (uint c = 0; c < G_NC; c++) {
        float bv = tileB[kk * G_BN + tc + c * G_TC];
        [[unroll]] for (uint r = 0; r < G_MB; r++) gAcc[r][c] += gAv[r] * bv;
    }
#ifdef GEMM_ROW_SUMS
    [[unroll]] for (uint r = 0; r < G_MB; r++) gRowSum[r] += gAv[r];
#endif
}

// Each element of C is still one invocation's sum over k in ascending order (within a chunk), as in the
// other paths; steps past kEnd are not taken, so zero padding adds nothing.
void gemmTiled(uint M, uint N, uint KN) {
    uint nBlocks = (N + G_BN - 1) / G_BN, mBlocks = (M + G_BM - 1) / G_BM;
    uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    uint tile = group % (mBlocks * nBlocks);
    gemmChunk = group / (mBlocks * nBlocks);
    uint kBegin = G_KCHUNK > 0 ? gemmChunk * G_KCHUNK : 0;
    // Whole workgroups only return here (group is uniform): every invocation reaches every barrier.
    if (kBegin >= max(KN, 1) || (G_KCHUNK == 0 && gemmChunk > 0)) return;
    uint kEnd = G_KCHUNK > 0 ? min(KN, kBegin + G_KCHUNK) : KN;
    uint m0 = (tile / nBlocks) * G_BM, n0 = (tile % nBlocks) * G_BN;
    uint t = gl_LocalInvocationID.x, tr = t / G_TC, tc = t % G_TC;
    clearTile();
    for (uint k0 = kBegin; k0 < kEnd; k0 += G_BK) {
        loadStage(M, N, m0, n0, k0, kEnd, t);
        barrier();
        if (k0 + G_BK <= kEnd) {
            [[unroll]] for (uint kk = 0; kk < G_BK; kk++) stageStep(kk, tr, tc);
        } else {
            for (uint kk = 0; kk < kEnd - k0; kk++) stageStep(kk, tr, tc);
        }
        barrier();
    }
    [[unroll]] for (uint r = 0; r < G_MB; r++) {
        uint m = m0 + tr + r * G_TR;
        if (m >= M) break;
        [[unroll]] for (uint c = 0; c < G_NC; c++) {
            uint n = n0 + tc + c * G_TC;
            if (n < N) store(m, n, gAcc[r][c]);
        }
#ifdef GEMM_ROW_SUMS
        if (n0 == 0 && tc == 0) storeRowSum(m, gRowSum[r]);
#endif
    }
}

void gemm(uint M, uint N, uint KN) {
    if (G_TILED) gemmTiled(M, N, KN); else if (G_SHARE) gemmShare(M, N, KN); else gemmPortable(M, N, KN);
}
