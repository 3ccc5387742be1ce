#version 450
// Gradient of a fully connected layer to its parameters: dw[o,k] = sum_n dy[n,o] * x[n,k] and
// db[o] = sum_n dy[n,o]. As a GEMM (gemm.glsl): A = dy^T (A[o][n] = dy[n,o], contiguous along o),
// B = x [batch, in], C = dw [out, in]; db is the row sums of A, summed beside dw by the invocations
// (or lane 0 of the workgroups) of the first column block. Each element is one invocation's sum: no atomics.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifndef NO_SUBGROUPS
#extension GL_KHR_shader_subgroup_ballot : require
#endif
#include "common.glsl"
layout(std430, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, binding = 0) readonly buffer DY4 { vec4 dy4[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 2) writeonly buffer DW { float dw[]; };
layout(std430, binding = 3) writeonly buffer DB { float db[]; };
layout(push_constant) uniform Params { uint batch; uint inFeatures; uint outFeatures; } p;

float elemA(uint o, uint n) { return dy[n * p.outFeatures + o]; }
float elemB(uint n, uint k) { return x[n * p.inFeatures + k]; }
vec4 a4(uint o, uint n) { return dy4[(n * p.outFeatures + o) / 4]; }  // outFeatures % 4 == 0
vec4 b4(uint n, uint k) { return x4[(n * p.inFeatures + k) / 4]; }    // inFeatures % 4 == 0
void store(uint o, uint k, float v) { dw[o * p.inFeatures + k] = v; }
void storeRowSum(uint o, float s) { db[o] = s; }
#define GEMM_A_ALONG_M
#define GEMM_ROW_SUMS
#include "gemm.glsl"

void main() { gemm(p.outFeatures, p.inFeatures, p.batch); }
