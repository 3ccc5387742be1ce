// linear_forward, linear_backward_input and linear_backward_weight: fully connected layers (gemm.glsl's core).
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// y[n,o] = b[o] + sum_k x[n,k] * w[o,k]
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func linearForward<T: BinaryFloatingPoint>(_ x: [T], _ w: [T], _ b: [T], _ s: LinearShape) -> [T] {
        var y = [T](repeating: 0, count: s.batch * s.outFeatures)
        for n in 0..<s.batch {
            for o in 0..<s.outFeatures {
                var acc = b[o]
                for k in 0..<s.inFeatures { acc += x[n * s.inFeatures + k] * w[o * s.inFeatures + k] }
                y[n * s.outFeatures + o] = acc
            }
        }
        return y
    }

    /// dx[n,k] = sum_o dy[n,o] * w[o,k]
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func linearBackwardInput<T: BinaryFloatingPoint>(_ dy: [T], _ w: [T], _ s: LinearShape) -> [T] {
        var dx = [T](repeating: 0, count: s.batch * s.inFeatures)
        for n in 0..<s.batch {
            for o in 0..<s.outFeatures {
                let g = dy[n * s.outFeatures + o]
                for k in 0..<s.inFeatures { dx[n * s.inFeatures + k] += g * w[o * s.inFeatures + k] }
            }
        }
        return dx
    }

    /// dw[o,k] = sum_n dy[n,o] * x[n,k];  db[o] = sum_n dy[n,o]
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func linearBackwardWeight<T: BinaryFloatingPoint>(_ dy: [T], _ x: [T], _ s: LinearShape) -> (dw: [T], db: [T]) {
        var dw = [T](repeating: 0, count: s.outFeatures * s.inFeatures)
        var db = [T](repeating: 0, count: s.outFeatures)
        for n in 0..<s.batch {
            for o in 0..<s.outFeatures {
                let g = dy[n * s.outFeatures + o]
                db[o] += g
                for k in 0..<s.inFeatures { dw[o * s.inFeatures + k] += g * x[n * s.inFeatures + k] }
            }
        }
        return (dw, db)
    }
}

struct LinearParams { var batch: UInt32; var inFeatures: UInt32; var outFeatures: UInt32 }
struct LinearForwardParams { var linear: LinearParams; var relu: UInt32 }

extension Kernels {
    /// y = x * w^T + b, or max(that, 0) with `relu` (a GEMM with A = x, B = w^T).
    public func linearForward(_ seq: CommandSequence, x: BufferRange, w: BufferRange, b: BufferRange, y: BufferRange, shape s: LinearShape, relu: Bool = false) throws {
        let push = LinearForwardParams(linear: linearParams(s), relu: relu ? 1 : 0)
        try gemm(seq, "linear_forward", [x, w, b, y], push: push, m: s.batch, n: s.outFeatures, k: s.inFeatures,
                 va: vectorWidth(s.inFeatures, [x]), vb: vectorWidth(s.inFeatures, [w]), macs: s.macs)
    }

    /// dx = dy * w (a GEMM with A = dy, B = w).
    public func linearBackwardInput(_ seq: CommandSequence, dy: BufferRange, w: BufferRange, dx: BufferRange, shape s: LinearShape) throws {
        try gemm(seq, "linear_backward_input", [dy, w, dx], push: linearParams(s), m: s.batch, n: s.inFeatures, k: s.outFeatures,
                 va: vectorWidth(s.outFeatures, [dy]), vb: vectorWidth(s.inFeatures, [w]), macs: s.macs)
    }

    /// dw = dy^T * x and db = column sums of dy (a GEMM with A = dy^T, B = x; db the row sums of A).
    public func linearBackwardWeight(_ seq: CommandSequence, dy: BufferRange, x: BufferRange, dw: BufferRange, db: BufferRange, shape s: LinearShape) throws {
        try gemm(seq, "linear_backward_weight", [dy, x, dw, db], push: linearParams(s), m: s.outFeatures, n: s.inFeatures, k: s.batch,
                 va: vectorWidth(s.outFeatures, [dy]), vb: vectorWidth(s.inFeatures, [x]), macs: s.macs + s.batch * s.outFeatures)
    }

    private func linearParams(_ s: LinearShape) -> LinearParams {
        LinearParams(batch: UInt32(s.batch), inFeatures: UInt32(s.inFeatures), outFeatures: UInt32(s.outFeatures))
    }
}
