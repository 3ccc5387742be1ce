#version 450
// Gradient of the Dirichlet-multinomial loss sum (dirichlet_forward) / denominator with respect to z:
//   d nll / d alpha_i = psi(N + A) - psi(A) - [psi(k_i + alpha_i) - psi(alpha_i)]  (the bracket 0 when k_i = 0),
//   grad_i = d nll / d alpha_i * 99 sigmoid'(z_i) / denominator; 0 in a question without votes.
// One invocation per element of [rows, width]; each sums its own question's N and A.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dirichlet.glsl"
layout(std430, binding = 0) readonly buffer Z { float z[]; };
layout(std430, binding = 1) readonly buffer K { float counts[]; };
layout(std430, binding = 2) readonly buffer Q { uint qstart[]; };
layout(std430, binding = 3) writeonly buffer G { float grad[]; };
layout(push_constant) uniform Params { uint rows; uint width; uint questions; uint denominator; } p;
void main() {
    uint i = globalIndex();
    if (i >= p.rows * p.width) return;
    uint row = i / p.width, column = i % p.width, q = 0;
    while (qstart[q + 1] <= column) ++q;
    uint base = row * p.width;
    float n = 0.0, a = 0.0;
    for (uint c = qstart[q]; c < qstart[q + 1]; ++c) {
        n += counts[base + c];
        a += concentration(z[base + c]);
    }
    float g = 0.0;
    if (n > 0.0) {
        float k = counts[i], zi = z[i], alpha = concentration(zi);
        float dAlpha = digammaAtLeastOne(n + a) - digammaAtLeastOne(a);
        if (k > 0.0) dAlpha -= digammaAtLeastOne(k + alpha) - digammaAtLeastOne(alpha);
        g = dAlpha * (SPAN * sigmoidSlope(zi)) / float(p.denominator);
    }
    grad[i] = g;
}
