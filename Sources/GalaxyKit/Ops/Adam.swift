// adam: torch.optim.Adam (no weight decay, not AMSGrad).
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

/// Adam's constants; PyTorch's defaults.
public struct AdamSettings: Codable, Sendable, Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public init() {}
}

extension Reference {
    /// One Adam step. `scalars` carries the step's state between steps: [beta1^t, beta2^t, step size, sqrt of the
    /// second bias correction], starting at [1, 1, 0, 0]; the powers are running float32 products, as the shader
    /// forms them, so that the step size is lr / (1 - beta1^t) of exactly those (PyTorch forms beta^t in double:
    /// the two differ by a few float32 roundings of 1 - beta^t, which only scale the step).
    public static func adam(weights w: inout [Double], grads g: [Double], first m: inout [Double], second v: inout [Double],
                            scalars s: inout [Float], lr: Float, settings a: AdamSettings) {
        s[0] = s[0] * a.beta1
        s[1] = s[1] * a.beta2
        s[2] = lr / (1 - s[0])
        s[3] = (1 - s[1]).squareRoot()
        let (b1, b2, eps) = (Double(a.beta1), Double(a.beta2), Double(a.epsilon))
        let (stepSize, correction) = (Double(s[2]), Double(s[3]))
        for i in w.indices {
            m[i] += (1 - b1) * (g[i] - m[i])
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            w[i] -= stepSize * (m[i] / (v[i].squareRoot() / correction + eps))
        }
    }

    /// The scalars before the first step.
    public static let adamInitialScalars: [Float] = [1, 1, 0, 0]
}

struct AdamParams { var count: UInt32; var phase: UInt32; var lr: Float; var beta1: Float; var beta2: Float; var epsilon: Float }

extension Kernels {
    /// One Adam step: the step's scalars advanced in `scalars` (4 floats), then every parameter updated.
    public func adam(_ seq: CommandSequence, weights: BufferRange, grads: BufferRange, first: BufferRange, second: BufferRange, scalars: BufferRange,
                     count: Int, lr: Float, settings a: AdamSettings) throws {
        let pipeline = try pipeline("adam", 5, AdamParams.self)
        let bindings = [weights, grads, first, second, scalars]
        for phase in 0...1 {
            let push = AdamParams(count: UInt32(count), phase: UInt32(phase), lr: lr, beta1: a.beta1, beta2: a.beta2, epsilon: a.epsilon)
            try seq.dispatch(pipeline, bindings, push: push, invocations: phase == 0 ? 1 : count)
        }
    }
}
