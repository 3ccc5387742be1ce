// Shared helpers for the compute shaders.
