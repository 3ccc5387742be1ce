#version 450
// Gradient of a fully connected layer to its input: dx[n,k] = sum_o dy[n,o] * w[o,k].
// As a GEMM (gemm.glsl): A = dy [batch, out], B = w [out, in], C = dx [batch, in].
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifndef NO_SUBGROUPS
#extension GL_KHR_shader_subgroup_ballot : require
#endif
#include "common.glsl"
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 0) readonly buffer DY4 { vec4 dy4[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 1) readonly buffer W4 { vec4 w4[]; };
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform Params { uint batch; uint inFeatures; uint outFeatures; } p;

float elemA(uint n, uint o) { return dy[n * p.outFeatures + o]; }
float elemB(uint o, uint k) { return w[o * p.inFeatures + k]; }
vec4 a4(uint n, uint o) { return dy4[(n * p.outFeatures + o) / 4]; }  // outFeatures % 4 == 0
vec4 b4(uint o, uint k) { return w4[(o * p.inFeatures + k) / 4]; }    // inFeatures % 4 == 0
void store(uint n, uint k, float v) { dx[n * p.inFeatures + k] = v; }
#include "gemm.glsl"

void main() { gemm(p.batch, p.inFeatures, p.outFeatures); }
