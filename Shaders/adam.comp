#version 450
// Adam (torch.optim.Adam without weight decay or AMSGrad), two dispatches per step.
// Phase 0, one invocation, advances the step's scalars in s: the running float32 products s[0] = beta1^t and
// s[1] = beta2^t (1 before the first step), then s[2] = lr / (1 - beta1^t) and s[3] = sqrt(1 - beta2^t).
// Phase 1 updates every parameter with them, in PyTorch's order of operations:
// m += (1 - beta1) (g - m); v = beta2 v + (1 - beta2) g g; w -= s[2] * (m / (sqrt(v) / s[3] + eps)).
// m and v start at 0, so the first step moves every weight with a nonzero gradient by about lr.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(std430, binding = 0) buffer W { float w[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) buffer M { float m[]; };
layout(std430, binding = 3) buffer V { float v[]; };
layout(std430, binding = 4) buffer S { float s[]; };
layout(push_constant) uniform Params { uint count; uint phase; float lr; float beta1; float beta2; float eps; } p;
void main() {
    uint i = globalIndex();
    if (p.phase == 0u) {
        if (i != 0u) return;
        float b1t = s[0] * p.beta1, b2t = s[1] * p.beta2;
        s[0] = b1t;
        s[1] = b2t;
        s[2] = p.lr / (1.0 - b1t);
        s[3] = sqrt(1.0 - b2t);
        return;
    }
    if (i >= p.count) return;
    float gi = g[i];
    float mi = m[i] + (1.0 - p.beta1) * (gi - m[i]);
    float vi = p.beta2 * v[i] + (1.0 - p.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= s[2] * (mi / (sqrt(vi) / s[3] + p.eps));
}
