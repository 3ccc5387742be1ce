// sgd_momentum: torch.optim.SGD with momentum.
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// One step of torch.optim.SGD(lr, momentum), dampening 0: buf = momentum*buf + g; w -= lr*buf.
    /// A zero buffer reproduces PyTorch's first step (buf = g).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func sgdMomentum<T: BinaryFloatingPoint>(weights w: inout [T], grads g: [T], buffer buf: inout [T], lr: T, momentum: T) {
        for i in w.indices {
            buf[i] = momentum * buf[i] + g[i]
            w[i] -= lr * buf[i]
        }
    }
}

struct SGDParams { var count: UInt32; var lr: Float; var momentum: Float }

extension Kernels {
    public func sgdMomentum(_ seq: CommandSequence, weights: BufferRange, grads: BufferRange, buffer: BufferRange, count: Int, lr: Float, momentum: Float) throws {
        let push = SGDParams(count: UInt32(count), lr: lr, momentum: momentum)
        try seq.dispatch(pipeline("sgd_momentum", 3, SGDParams.self), [weights, grads, buffer], push: push, invocations: count)
    }
}
