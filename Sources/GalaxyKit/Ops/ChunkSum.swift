// chunk_sum: adds the partial sums of a split reduction chunk by chunk, in a fixed order.
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// y[i] = sum over chunks h of x[h * count + i], in chunk order (chunk_sum.comp).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func chunkSum<T: BinaryFloatingPoint>(_ x: [T], count: Int, chunks: Int) -> [T] {
        precondition(x.count >= count * chunks, "chunkSum: \(x.count) values for \(chunks) chunks of \(count)")
        return (0..<count).map { i in (0..<chunks).reduce(T(0)) { $0 + x[$1 * count + i] } }
    }
}

struct ChunkSumParams { var count: UInt32; var chunks: UInt32 }

extension Kernels {
    /// y[i] = sum over `chunks` of x[h * count + i].
    public func chunkSum(_ seq: CommandSequence, x: BufferRange, y: BufferRange, count: Int, chunks: Int) throws {
        try seq.dispatch(pipeline("chunk_sum", 2, ChunkSumParams.self), [x, y], push: ChunkSumParams(count: UInt32(count), chunks: UInt32(chunks)),
                         invocations: count, macs: count * chunks)
    }
}
