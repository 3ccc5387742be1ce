#version 450
// Single-precision matrix product, row-major: C[m,n] = sum_k A[m,k] * B[k,n]; A is [M,K], B [K,N],
// C [M,N]. `galaxy bench` times it at 1024^3 as the device's GEMM ceiling. The tiling is in gemm.glsl.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifndef NO_SUBGROUPS
#extension GL_KHR_shader_subgroup_ballot : require
#endif
#include "common.glsl"
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 0) readonly buffer A4 { vec4 a4v[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 1) readonly buffer B4 { vec4 b4v[]; };
layout(std430, binding = 2) writeonly buffer C { float c[]; };
layout(push_constant) uniform Params { uint M; uint N; uint K; } p;

float elemA(uint m, uint k) { return a[m * p.K + k]; }
float elemB(uint k, uint n) { return b[k * p.N + n]; }
vec4 a4(uint m, uint k) { return a4v[(m * p.K + k) / 4]; }  // K % 4 == 0
vec4 b4(uint k, uint n) { return b4v[(k * p.N + n) / 4]; }  // N % 4 == 0
void store(uint m, uint n, float v) { c[m * p.N + n] = v; }
#include "gemm.glsl"

void main() { gemm(p.M, p.N, p.K); }
