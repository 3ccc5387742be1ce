// Shared by every compute shader: the workgroup size comes from specialization constant 0, and
// large dispatches are spread over a 2D grid of workgroups (see CommandSequence.groupCounts).
layout(local_size_x_id = 0) in;

uint globalIndex() {
    return gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * gl_WorkGroupSize.x) + gl_GlobalInvocationID.x;
}

// The subgroup-free build of the GEMM-shaped shaders (<name>_nosg.spv, compiled with -DNO_SUBGROUPS and
// loaded for the portable tiles, so a device without subgroup operations runs them): SHARE is never set
// there, so the SHARE code that these stand in for is dead and no subgroup capability is declared.
#ifdef NO_SUBGROUPS
#define subgroupBroadcast(v, lane) (v)
#define SUBGROUP_LANE 0u
#else
#define SUBGROUP_LANE gl_SubgroupInvocationID
#endif

// gemm.glsl's chunk of k being summed (G_KCHUNK): declared here, before the including shader's store().
uint gemmChunk = 0;
