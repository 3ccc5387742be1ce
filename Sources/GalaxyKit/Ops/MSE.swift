// mse_forward and mse_backward: the seed's MSELoss(reduction='sum') and its gradient.
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// sum_i (pred_i - target_i)^2, as MSELoss(reduction='sum').
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func mseForward<T: BinaryFloatingPoint>(_ pred: [T], _ target: [T]) -> T {
        zip(pred, target).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    }

    /// Gradient of mseForward(pred, target) / count, which is what the seed back-propagates.
    /// Gradient of sum (pred - target)^2 / denominator (default: the element count).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func mseBackward<T: BinaryFloatingPoint>(_ pred: [T], _ target: [T], denominator: Int? = nil) -> [T] {
        let n = T(denominator ?? pred.count)
        return zip(pred, target).map { 2 * ($0 - $1) / n }
    }
}

struct MSEBackwardParams { var count: UInt32; var denominator: UInt32 }
struct MSEParams { var count: UInt32; var slot: UInt32; var accumulate: UInt32 }

extension Kernels {
    /// loss[slot] = sum (pred - target)^2, or += when `accumulate`.
    public func mseForward(_ seq: CommandSequence, pred: BufferRange, target: BufferRange, loss: BufferRange, count: Int, slot: Int = 0, accumulate: Bool = false) throws {
        let push = MSEParams(count: UInt32(count), slot: UInt32(slot), accumulate: accumulate ? 1 : 0)
        // One workgroup reduces everything in a fixed order, so the loss is deterministic.
        let p = try pipeline("mse_forward", 3, MSEParams.self)
        try seq.dispatch(p, [pred, target, loss], push: push, invocations: p.workgroupSize)
    }

    /// grad = 2 (pred - target) / denominator over `count` elements (denominator: count unless given).
    public func mseBackward(_ seq: CommandSequence, pred: BufferRange, target: BufferRange, grad: BufferRange, count: Int, denominator: Int? = nil) throws {
        let push = MSEBackwardParams(count: UInt32(count), denominator: UInt32(denominator ?? count))
        try seq.dispatch(pipeline("mse_backward", 3, MSEBackwardParams.self), [pred, target, grad], push: push, invocations: count)
    }
}
