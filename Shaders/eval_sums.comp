#version 450
// What evaluation needs of a [rows, columns] batch of outputs, added to `sums` (2 x columns): for column c,
// sums[c] += sum_r (pred[r][c] - target[r][c])^2 and sums[columns + c] += sum_r pred[r][c]. One invocation
// per sum adds its rows in order, so the result does not depend on scheduling; a pass's batches, replayed
// one after another on the queue, are added to `sums` in batch order.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) readonly buffer P { float pred[]; };
layout(std430, binding = 1) readonly buffer T { float target[]; };
layout(std430, binding = 2) buffer S { float sums[]; };
layout(push_constant) uniform Params { uint rows; uint columns; } p;
void main() {
    uint i = globalIndex();
    if (i >= 2 * p.columns) return;
    float s = 0.0;
    if (i < p.columns) {
        for (uint r = 0; r < p.rows; r++) {
            float d = pred[r * p.columns + i] - target[r * p.columns + i];
            s += d * d;
        }
    } else {
        uint c = i - p.columns;
        for (uint r = 0; r < p.rows; r++) s += pred[r * p.columns + c];
    }
    sums[i] += s;
}
