// Shared by every compute shader: the workgroup size comes from specialization constant 0, and
// large dispatches are spread over a 2D grid of workgroups (see CommandSequence.groupCounts).
layout(local_size_x_id = 0) in;

uint globalIndex() {
    return gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * gl_WorkGroupSize.x) + gl_GlobalInvocationID.x;
}
