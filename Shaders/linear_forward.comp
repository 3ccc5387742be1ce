#version 450
// Fully connected layer: y[n,o] = b[o] + sum_k x[n,k] * w[o,k]; x is [batch,in], w is [out,in] (PyTorch).
// With p.relu != 0, y = max(that, 0) (the layer and the following ReLU in one pass; a push constant, so
// one pipeline serves both).
// As a GEMM (gemm.glsl): A = x [batch, in], B = w^T (B[k][o] = w[o,k], contiguous along k), C = y.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifndef NO_SUBGROUPS
#extension GL_KHR_shader_subgroup_ballot : require
#endif
#include "common.glsl"
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 1) readonly buffer W4 { vec4 w4[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint batch; uint inFeatures; uint outFeatures; uint relu; } p;

float elemA(uint n, uint k) { return x[n * p.inFeatures + k]; }
float elemB(uint k, uint o) { return w[o * p.inFeatures + k]; }
vec4 a4(uint n, uint k) { return x4[(n * p.inFeatures + k) / 4]; }  // inFeatures % 4 == 0
vec4 b4(uint k, uint o) { return w4[(o * p.inFeatures + k) / 4]; }  // inFeatures % 4 == 0
void store(uint n, uint o, float v) {
    float s = v + bias[o];
    y[n * p.outFeatures + o] = p.relu != 0 ? max(s, 0.0) : s;
}
#define GEMM_B_ALONG_K
#include "gemm.glsl"

void main() { gemm(p.batch, p.outFeatures, p.inFeatures); }
