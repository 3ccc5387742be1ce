#version 450
// Decision-tree constrained output (after Dieleman), one invocation per row; z, p are [batch, ANSWERS]:
// p = f(z) normalized within each question (f: constrained_output.glsl's FORM), then each question
// scaled by its parent answer's p.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "decision_tree.glsl"
#include "constrained_output.glsl"
layout(std430, binding = 0) readonly buffer Z { float z[]; };
layout(std430, binding = 1) writeonly buffer P { float p[]; };
layout(push_constant) uniform Params { uint batch; } params;


void main() {
    uint row = globalIndex();
    if (row >= params.batch) return;
    tree_init();
    uint base = row * ANSWERS;
    float x[ANSWERS];
    for (uint c = 0; c < ANSWERS; ++c) x[c] = z[base + c];
    float v[ANSWERS];
    // In ORDER every parent column's value is final before its children are scaled by it.
    for (uint i = 0; i < QUESTIONS; ++i) {
        uint q = ORDER[i];
        float top = questionTop(x, q);
        float sum = 0.0;
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) sum += answerWeight(x[c], top);
        if (FORM == 0u) sum += EPS;
        float scale = PARENT[q] < 0 ? 1.0 : v[PARENT[q]];
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) v[c] = answerWeight(x[c], top) / sum * scale;
    }
    for (uint c = 0; c < ANSWERS; ++c) p[base + c] = v[c];
}
