#version 450
// Galaxy Zoo constrained output (after Dieleman), one invocation per row; z, p are [batch, 37]:
// p = max(z, 0) normalized within each question, then each question scaled by its parent answer's p.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer Z { float z[]; };
layout(std430, binding = 1) writeonly buffer P { float p[]; };
layout(push_constant) uniform Params { uint batch; } params;

// GalaxyZooTree.questionRanges (as start columns) and parentColumn (-1: the question sums to 1).
const uint QUESTIONS = 11;
const uint ANSWERS = 37;
const uint QSTART[QUESTIONS + 1] = uint[](0, 3, 5, 7, 9, 13, 15, 18, 25, 28, 31, 37);
const int PARENT[QUESTIONS] = int[](-1, 1, 4, 4, 4, -1, 0, 13, 3, 7, 7);
// Keeps a question whose answers are all <= 0 at 0/eps = 0 instead of 0/0. At 1e-12 it is a normal
// float32, and it rounds away in any answer sum above ~2^24 * 1e-12 = 1.7e-5, so it does not bias
// ordinary rows; and a_i <= sum + eps keeps every normalized value in [0, 1].
const float EPS = 1e-12;

void main() {
    uint row = globalIndex();
    if (row >= params.batch) return;
    uint base = row * ANSWERS;
    float v[ANSWERS];
    // Ascending question order is a valid scaling order: every parent column lies in an earlier
    // question, so its value is final before its children are scaled by it.
    for (uint q = 0; q < QUESTIONS; ++q) {
        float sum = 0.0;
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) sum += max(z[base + c], 0.0);
        float scale = PARENT[q] < 0 ? 1.0 : v[PARENT[q]];
        for (uint c = QSTART[q]; c < QSTART[q + 1]; ++c) v[c] = max(z[base + c], 0.0) / (sum + EPS) * scale;
    }
    for (uint c = 0; c < ANSWERS; ++c) p[base + c] = v[c];
}
