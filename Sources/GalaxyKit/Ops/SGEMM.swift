// sgemm: C = A * B in float32 (the bench's ceiling; linear shares its core, gemm.glsl).
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// c[m,n] = sum_k a[m,k] * b[k,n]  (row-major: a is [M,K], b [K,N], c [M,N])
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func sgemm<T: BinaryFloatingPoint>(_ a: [T], _ b: [T], _ s: GemmShape) -> [T] {
        var c = [T](repeating: 0, count: s.m * s.n)
        for m in 0..<s.m {
            for k in 0..<s.k {
                let av = a[m * s.k + k]
                for n in 0..<s.n { c[m * s.n + n] += av * b[k * s.n + n] }
            }
        }
        return c
    }
}

struct GemmParams { var m: UInt32; var n: UInt32; var k: UInt32 }

extension Kernels {
    /// C = A * B, float32, row-major (A [m,k], B [k,n], C [m,n]).
    public func sgemm(_ seq: CommandSequence, a: BufferRange, b: BufferRange, c: BufferRange, shape s: GemmShape) throws {
        try gemm(seq, "sgemm", [a, b, c], push: GemmParams(m: UInt32(s.m), n: UInt32(s.n), k: UInt32(s.k)), m: s.m, n: s.n, k: s.k,
                 va: vectorWidth(s.k, [a]), vb: vectorWidth(s.n, [b]), macs: s.macs)
    }
}
