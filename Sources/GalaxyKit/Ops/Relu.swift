// relu_forward and relu_backward.
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// y = max(x, 0)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func reluForward<T: BinaryFloatingPoint>(_ x: [T]) -> [T] { x.map { $0 > 0 ? $0 : 0 } }

    /// dx = dy where the forward output y > 0, else 0 (PyTorch's threshold_backward on the output).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func reluBackward<T: BinaryFloatingPoint>(_ y: [T], _ dy: [T]) -> [T] {
        zip(y, dy).map { $0 > 0 ? $1 : 0 }
    }
}

struct CountParams { var count: UInt32 }

extension Kernels {
    public func reluForward(_ seq: CommandSequence, x: BufferRange, y: BufferRange, count: Int) throws {
        let v = vectorWidth(count, [x, y])
        try seq.dispatch(pipeline("relu_forward", 2, CountParams.self, [v]), [x, y], push: CountParams(count: UInt32(count)), invocations: count / Int(v))
    }

    public func reluBackward(_ seq: CommandSequence, y: BufferRange, dy: BufferRange, dx: BufferRange, count: Int) throws {
        let v = vectorWidth(count, [y, dy, dx])
        try seq.dispatch(pipeline("relu_backward", 3, CountParams.self, [v]), [y, dy, dx], push: CountParams(count: UInt32(count)), invocations: count / Int(v))
    }
}
