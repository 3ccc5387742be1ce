// C[m,n] = sum_k A[m,k] * B[k,n], the core of sgemm.comp and the three linear_* shaders. Every
// element of C is one sum over k = 0..K-1 in ascending order, kept in one invocation's registers:
// deterministic, no atomics, and the SHARE and portable paths give the same sums in the same order.
//
// The including shader defines, before `#include "gemm.glsl"`:
//   float elemA(uint m, uint k), float elemB(uint k, uint n)   scalar loads (indices in range)
//   vec4 a4(uint m, uint k)   four A values as one vec4 load: A[m][k..k+3], or with GEMM_A_ALONG_M
//                             A[m..m+3][k] (used when VA == 4; the host checks the layout allows it)
//   vec4 b4(uint k, uint n)   B[k][n..n+3], or with GEMM_B_ALONG_K B[k..k+3][n] (when VB == 4)
//   void store(uint m, uint n, float v)
//   with GEMM_ROW_SUMS also void storeRowSum(uint m, float s): s = sum_k A[m,k], same order.
// and requires GL_KHR_shader_subgroup_ballot and GL_EXT_control_flow_attributes.
//
// SHARE (lavapipe, where every storage-buffer load runs one lane at a time, docs/performance.md):
// a workgroup is one 8-lane subgroup owning MB rows x 8*NC columns of C; each lane keeps MB x NC
// sums in registers. Per 4 steps of k, each lane loads MB/8 vec4s of A and hands them to the others
// with subgroupBroadcast, and reads its own NC columns of B. Every load costs per lane there, so the
// tile is chosen for few loads per multiply-add: (MB/8 + NC) / (MB * NC) per lane and step of k.
// Portable (GPUs): one invocation per MB x NC block, scalar loads, no subgroup operations.

// true: workgroup = one subgroup of 8 lanes, MB a multiple of 8.
layout(constant_id = 1) const bool SHARE = false;
layout(constant_id = 2) const uint NC = 4;   // columns per lane (SHARE: a multiple of 4) / per invocation
layout(constant_id = 3) const uint MB = 4;   // rows per invocation (portable) / per workgroup (SHARE)
layout(constant_id = 4) const uint VA = 1;   // 4: A read with a4()
layout(constant_id = 5) const uint VB = 1;   // 4: B read with b4()

const uint RJ = (MB + 7) / 8;  // SHARE: rows of A each lane loads per step
float acc[MB][NC];
vec4 mine[RJ];       // SHARE: this lane's loads of A
float bk[4][NC];     // SHARE: B[k..k+3][this lane's columns]
#ifdef GEMM_ROW_SUMS
float rowSum[MB];
#endif
uint col[NC];        // this invocation's columns of C (clamped into range)
float av[MB];        // A[rows of the tile][k] for one step of k

void clearTile() {
    [[unroll]] for (uint r = 0; r < MB; r++) [[unroll]] for (uint c = 0; c < NC; c++) acc[r][c] = 0.0;
#ifdef GEMM_ROW_SUMS
    [[unroll]] for (uint r = 0; r < MB; r++) rowSum[r] = 0.0;
#endif
}

// One step k with av: acc += av x B[k][col] (and the row sums), one scalar load of B per column.
void stepOne(uint k) {
    [[unroll]] for (uint c = 0; c < NC; c++) {
        float bv = elemB(k, col[c]);
        [[unroll]] for (uint r = 0; r < MB; r++) acc[r][c] += av[r] * bv;
    }
#ifdef GEMM_ROW_SUMS
    [[unroll]] for (uint r = 0; r < MB; r++) rowSum[r] += av[r];
#endif
}

// Writes the tile's sums inside C (rows from m0, columns from n0); the row sums too where `sums`.
void storeTile(uint M, uint N, uint m0, uint n0, bool sums) {
    [[unroll]] for (uint r = 0; r < MB; r++) {
        if (m0 + r >= M) break;
        [[unroll]] for (uint c = 0; c < NC; c++) if (n0 + c < N) store(m0 + r, n0 + c, acc[r][c]);
#ifdef GEMM_ROW_SUMS
        if (sums) storeRowSum(m0 + r, rowSum[r]);
#endif
    }
}

#ifdef GEMM_ROW_SUMS
#define GEMM_ROW_SUM(r, v) rowSum[r] += v;
#else
#define GEMM_ROW_SUM(r, v)
#endif
// Lane R's vec4s A[m0+8j+R][k..k+3] to every lane, each used at once (few values live at a time).
#define GEMM_ROW(R) [[unroll]] for (uint j = 0; j < RJ; j++) { vec4 a = subgroupBroadcast(mine[j], R); \
    [[unroll]] for (uint kk = 0; kk < 4; kk++) { \
        [[unroll]] for (uint c = 0; c < NC; c++) acc[8 * j + R][c] += a[kk] * bk[kk][c]; \
        GEMM_ROW_SUM(8 * j + R, a[kk]) } }
// Lanes KK (rows 8j+0..3) and KK+4 (rows 8j+4..7) hold A[..][k+KK]: to every lane.
#define GEMM_STEP(KK) [[unroll]] for (uint j = 0; j < RJ; j++) { \
    vec4 lo = subgroupBroadcast(mine[j], KK), hi = subgroupBroadcast(mine[j], KK + 4); \
    [[unroll]] for (uint i = 0; i < 4; i++) { \
        [[unroll]] for (uint c = 0; c < NC; c++) { acc[8 * j + i][c] += lo[i] * bk[KK][c]; acc[8 * j + 4 + i][c] += hi[i] * bk[KK][c]; } \
        GEMM_ROW_SUM(8 * j + i, lo[i]) GEMM_ROW_SUM(8 * j + 4 + i, hi[i]) } }
#define GEMM_ONE(R) [[unroll]] for (uint j = 0; j < RJ; j++) av[8 * j + R] = subgroupBroadcast(one[j], R);

void gemmShare(uint M, uint N, uint K) {
    uint lane = SUBGROUP_LANE;
    uint nBlocks = (N + 8 * NC - 1) / (8 * NC), mBlocks = (M + MB - 1) / MB;
    uint g = globalIndex() / 8;
    if (g >= mBlocks * nBlocks) return;  // whole workgroups only: the lanes stay together
    uint m0 = (g / nBlocks) * MB, n0 = (g % nBlocks) * 8 * NC + lane * NC;
    // Lanes and rows past the edges load clamped (valid) elements and write nothing.
    [[unroll]] for (uint c = 0; c < NC; c++) col[c] = min(n0 + c, N - 1);
    uint myRow[RJ];
    [[unroll]] for (uint j = 0; j < RJ; j++) myRow[j] = min(m0 + 8 * j + lane, M - 1);
    clearTile();
    uint k = 0;
    for (; k + 4 <= K; k += 4) {
#ifdef GEMM_B_ALONG_K
        [[unroll]] for (uint c = 0; c < NC; c++) {
            vec4 v = VB == 4 ? b4(k, col[c]) : vec4(elemB(k, col[c]), elemB(k + 1, col[c]), elemB(k + 2, col[c]), elemB(k + 3, col[c]));
            [[unroll]] for (uint kk = 0; kk < 4; kk++) bk[kk][c] = v[kk];
        }
#else
        [[unroll]] for (uint kk = 0; kk < 4; kk++) {
            if (VB == 4) {
                // N % 4 == 0: a group past the edge reads the last whole vec4 instead.
                [[unroll]] for (uint j = 0; j < NC / 4; j++) {
                    vec4 v = b4(k + kk, min(n0 + 4 * j, N - 4));
                    bk[kk][4 * j] = v.x; bk[kk][4 * j + 1] = v.y; bk[kk][4 * j + 2] = v.z; bk[kk][4 * j + 3] = v.w;
                }
            } else {
                [[unroll]] for (uint c = 0; c < NC; c++) bk[kk][c] = elemB(k + kk, col[c]);
            }
        }
#endif
#ifdef GEMM_A_ALONG_M
        // Lane L loads A[m0+8j+4*(L/4) .. +3][k + L%4]. M % 4 == 0 for a4, so a clamped start
        // only ever feeds rows >= M.
        uint ka = k + (lane & 3u);
        [[unroll]] for (uint j = 0; j < RJ; j++) {
            uint ma = m0 + 8 * j + 4 * (lane >> 2);
            mine[j] = VA == 4 ? a4(min(ma, M - 4), ka)
                : vec4(elemA(min(ma, M - 1), ka), elemA(min(ma + 1, M - 1), ka), elemA(min(ma + 2, M - 1), ka), elemA(min(ma + 3, M - 1), ka));
        }
        GEMM_STEP(0) GEMM_STEP(1) GEMM_STEP(2) GEMM_STEP(3)
#else
        [[unroll]] for (uint j = 0; j < RJ; j++) {
            uint m = myRow[j];
            mine[j] = VA == 4 ? a4(m, k) : vec4(elemA(m, k), elemA(m, k + 1), elemA(m, k + 2), elemA(m, k + 3));
        }
        GEMM_ROW(0) GEMM_ROW(1) GEMM_ROW(2) GEMM_ROW(3) GEMM_ROW(4) GEMM_ROW(5) GEMM_ROW(6) GEMM_ROW(7)
#endif
    }
    for (; k < K; k++) {
        // The last K % 4 steps, one at a time: lane L loads A[m0+8j+L][k].
        float one[RJ];
        [[unroll]] for (uint j = 0; j < RJ; j++) one[j] = elemA(myRow[j], k);
        GEMM_ONE(0) GEMM_ONE(1) GEMM_ONE(2) GEMM_ONE(3) GEMM_ONE(4) GEMM_ONE(5) GEMM_ONE(6) GEMM_ONE(7)
        stepOne(k);
    }
    storeTile(M, N, m0, n0, g % nBlocks == 0 && lane == 0);
}

void gemmPortable(uint M, uint N, uint K) {
    uint nBlocks = (N + NC - 1) / NC, mBlocks = (M + MB - 1) / MB;
    uint i = globalIndex();
    if (i >= mBlocks * nBlocks) return;
    uint m0 = (i / nBlocks) * MB, n0 = (i % nBlocks) * NC;
    uint row[MB];
    [[unroll]] for (uint r = 0; r < MB; r++) row[r] = min(m0 + r, M - 1);
    [[unroll]] for (uint c = 0; c < NC; c++) col[c] = min(n0 + c, N - 1);
    clearTile();
    for (uint k = 0; k < K; k++) {
        [[unroll]] for (uint r = 0; r < MB; r++) av[r] = elemA(row[r], k);
        stepOne(k);
    }
    storeTile(M, N, m0, n0, n0 == 0);
}

void gemm(uint M, uint N, uint K) {
    if (SHARE) gemmShare(M, N, K); else gemmPortable(M, N, K);
}
