/// The CPU reference of every op: plain loops over flat NCHW arrays. This is the specification each
/// shader is tested against, and each backward function is checked by finite differences. Generic over
/// the float type so tests can run it in Float64. Each op's reference lives in the op's own file
/// (Conv2d.swift, Linear.swift, ...) beside the host mirror of its push constants and its recording.
public enum Reference {}
