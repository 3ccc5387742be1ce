#version 450
// Gradient of the decision-tree constrained output, one invocation per row; z, dp, dz are [batch, ANSWERS]:
// dz = d(constrained_output_forward(z)) / dz applied to dp (recomputes the forward values of the row).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "decision_tree.glsl"
#include "constrained_output.glsl"
layout(std430, binding = 0) readonly buffer Z { float z[]; };
layout(std430, binding = 1) readonly buffer DP { float dp[]; };
layout(std430, binding = 2) writeonly buffer DZ { float dz[]; };
layout(push_constant) uniform Params { uint batch; } params;


void main() {
    uint row = globalIndex();
    if (row >= params.batch) return;
    tree_init();
    uint base = row * ANSWERS;

    // Forward, recomputed: per question its largest pre-activation top (softplus form) and answer sum s, per answer
    // n = the normalized f(z) and v = the final (scaled) output. Registers: a row's z is read from memory again
    // where it is needed instead of being held, and f'(z) / f(z) is recomputed from z and top at the end, so that
    // three arrays of ANSWERS floats (n, v, g) are live rather than five; with five, AMD's compiler spilled on
    // RDNA 3 (docs/performance.md, "The GPU path through ACO").
    float n[ANSWERS], v[ANSWERS], g[ANSWERS], s[QUESTIONS], top[QUESTIONS];
    for (uint i = 0; i < QUESTIONS; ++i) {
        uint q = ORDER[i];
        float t = z[base + QSTART[q]];
        for (uint c = QSTART[q] + 1; c < QSTART[q + 1]; ++c) t = max(t, z[base + c]);
        top[q] = t;
        float sum = 0.0;
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) sum += answerWeight(z[base + c], t);
        s[q] = FORM == 0u ? sum + EPS : sum;
        float scale = PARENT[q] < 0 ? 1.0 : v[PARENT[q]];
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) {
            n[c] = answerWeight(z[base + c], t) / s[q];
            v[c] = n[c] * scale;
        }
    }

    // Undo the scalings last to first (ORDER reversed). When question q is reached, every child of its columns has
    // already added its share to g, so g[c] is the full gradient wrt v[c]. v[c] = n[c] * v[parent]
    // sends g[c] * n[c] to the parent and leaves g[c] * v[parent] as the gradient wrt n[c].
    for (uint c = 0; c < ANSWERS; ++c) g[c] = dp[base + c];
    for (int i = int(QUESTIONS) - 1; i >= 0; --i) {
        uint q = ORDER[i];
        if (PARENT[q] < 0) continue;
        uint parent = uint(PARENT[q]);
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) {
            g[parent] += g[c] * n[c];
            g[c] *= v[parent];
        }
    }

    // n_i = a_i / s with s = sum_j a_j (+ eps): da_i = (dn_i - sum_j dn_j n_j) / s. Relu form: max(., 0)
    // passes it where z > 0. Softplus form: dz_i = f'(z_i) da_i = r_i n_i (dn_i - dot), r = f'(z) / f(z).
    for (uint q = 0; q < QUESTIONS; ++q) {
        float dot = 0.0;
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) dot += g[c] * n[c];
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) {
            float x = z[base + c];
            if (FORM == 0u) dz[base + c] = x > 0.0 ? (g[c] - dot) / s[q] : 0.0;
            else dz[base + c] = logDerivative(x, top[q]) * n[c] * (g[c] - dot);
        }
    }
}
