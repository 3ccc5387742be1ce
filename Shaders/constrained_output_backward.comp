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
    float x[ANSWERS];
    for (uint c = 0; c < ANSWERS; ++c) x[c] = z[base + c];

    // Forward: n = per-question normalized f(z) with sums s, v = final (scaled) outputs,
    // r = f'(z) / f(z) (softplus form).
    float n[ANSWERS], v[ANSWERS], g[ANSWERS], r[ANSWERS], s[QUESTIONS];
    for (uint i = 0; i < QUESTIONS; ++i) {
        uint q = ORDER[i];
        float top = questionTop(x, q);
        float sum = 0.0;
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) sum += answerWeight(x[c], top);
        s[q] = FORM == 0u ? sum + EPS : sum;
        float scale = PARENT[q] < 0 ? 1.0 : v[PARENT[q]];
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) {
            n[c] = answerWeight(x[c], top) / s[q];
            v[c] = n[c] * scale;
            r[c] = FORM == 0u ? 0.0 : logDerivative(x[c], top);
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
    // passes it where z > 0. Softplus form: dz_i = f'(z_i) da_i = r_i n_i (dn_i - dot).
    for (uint q = 0; q < QUESTIONS; ++q) {
        float dot = 0.0;
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) dot += g[c] * n[c];
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) {
            if (FORM == 0u) dz[base + c] = x[c] > 0.0 ? (g[c] - dot) / s[q] : 0.0;
            else dz[base + c] = r[c] * n[c] * (g[c] - dot);
        }
    }
}
