#version 450
// The Dirichlet-multinomial negative log-likelihood of vote counts [rows, width] under the concentrations
// 1 + 99 sigmoid(z) [rows, width], summed over the rows and the questions that have votes, by one workgroup in a
// fixed order (deterministic). Per question with N = sum k_i > 0 votes and A = sum alpha_i:
//   nll = log Gamma(N + A) - log Gamma(A) - sum_{k_i > 0} [log Gamma(k_i + alpha_i) - log Gamma(alpha_i)]
//         - log Gamma(N + 1) + sum_{k_i > 0} log Gamma(k_i + 1)
// loss[slot] = sum, or loss[slot] += sum when `accumulate` is 1.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dirichlet.glsl"
layout(std430, binding = 0) readonly buffer Z { float z[]; };
layout(std430, binding = 1) readonly buffer K { float counts[]; };
layout(std430, binding = 2) readonly buffer Q { uint qstart[]; };
layout(std430, binding = 3) buffer L { float loss[]; };
layout(push_constant) uniform Params { uint rows; uint width; uint questions; uint slot; uint accumulate; } p;
shared float partial[gl_WorkGroupSize.x];

float questionNLL(uint row, uint q) {
    uint base = row * p.width;
    float n = 0.0, a = 0.0, sum = 0.0;
    for (uint c = qstart[q]; c < qstart[q + 1]; ++c) {
        float k = counts[base + c], alpha = concentration(z[base + c]);
        n += k;
        a += alpha;
        if (k > 0.0) sum += lgammaAtLeastOne(k + 1.0) - (lgammaAtLeastOne(k + alpha) - lgammaAtLeastOne(alpha));
    }
    if (n == 0.0) return 0.0;
    return lgammaAtLeastOne(n + a) - lgammaAtLeastOne(a) - lgammaAtLeastOne(n + 1.0) + sum;
}

void main() {
    uint t = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint i = t; i < p.rows * p.questions; i += gl_WorkGroupSize.x) s += questionNLL(i / p.questions, i % p.questions);
    partial[t] = s;
    barrier();
    for (uint half_ = gl_WorkGroupSize.x / 2; half_ > 0; half_ /= 2) {
        if (t < half_) partial[t] += partial[t + half_];
        barrier();
    }
    if (t == 0) loss[p.slot] = (p.accumulate != 0 ? loss[p.slot] : 0.0) + partial[0];
}
