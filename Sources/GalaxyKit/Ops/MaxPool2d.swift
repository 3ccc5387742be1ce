// maxpool2d_forward and maxpool2d_backward: 2x2, stride-2 max pooling.
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// y[p,oy,ox] = max over the 2x2 window; index = iy*W+ix of the first maximum in row-major window
    /// order (PyTorch's tie rule; a NaN wins). Odd trailing rows/columns are dropped (floor).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func maxpool2dForward<T: BinaryFloatingPoint>(_ x: [T], _ s: PoolShape) -> (y: [T], index: [UInt32]) {
        let (oh, ow) = (s.outHeight, s.outWidth)
        var y = [T](repeating: 0, count: s.outputCount)
        var index = [UInt32](repeating: 0, count: s.outputCount)
        for p in 0..<s.planes {
            let base = p * s.height * s.width
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = (2 * oy) * s.width + 2 * ox
                    var m = x[base + best]
                    for k in 1..<4 {
                        let at = (2 * oy + k / 2) * s.width + 2 * ox + k % 2
                        if x[base + at] > m || x[base + at].isNaN { m = x[base + at]; best = at }
                    }
                    y[(p * oh + oy) * ow + ox] = m
                    index[(p * oh + oy) * ow + ox] = UInt32(best)
                }
            }
        }
        return (y, index)
    }

    /// dx is zero except at each window's recorded maximum, which receives the window's dy.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func maxpool2dBackward<T: BinaryFloatingPoint>(_ dy: [T], _ index: [UInt32], _ s: PoolShape) -> [T] {
        var dx = [T](repeating: 0, count: s.inputCount)
        for p in 0..<s.planes {
            for j in 0..<(s.outHeight * s.outWidth) {
                let o = p * s.outHeight * s.outWidth + j
                dx[p * s.height * s.width + Int(index[o])] += dy[o]
            }
        }
        return dx
    }
}

struct PoolParams { var planes: UInt32; var height: UInt32; var width: UInt32 }

extension Kernels {
    public func maxpool2dForward(_ seq: CommandSequence, x: BufferRange, y: BufferRange, index: BufferRange, shape s: PoolShape) throws {
        let push = PoolParams(planes: UInt32(s.planes), height: UInt32(s.height), width: UInt32(s.width))
        // Two windows per invocation from vec4 loads when rows are whole, aligned vec4s.
        let v: UInt32 = s.width % 4 == 0 && [x, y, index].allSatisfy({ $0.offset % 16 == 0 }) ? 2 : 1
        try seq.dispatch(pipeline("maxpool2d_forward", 3, PoolParams.self, [v]), [x, y, index], push: push, invocations: s.outputCount / Int(v))
    }

    public func maxpool2dBackward(_ seq: CommandSequence, dy: BufferRange, index: BufferRange, dx: BufferRange, shape s: PoolShape) throws {
        let push = PoolParams(planes: UInt32(s.planes), height: UInt32(s.height), width: UInt32(s.width))
        // Whole windows per invocation when no row or column is dropped; two when rows are whole vec4s.
        let aligned = [dy, index, dx].allSatisfy { $0.offset % 16 == 0 }
        let v: UInt32 = s.height % 2 != 0 || s.width % 2 != 0 || !aligned ? 1 : s.width % 4 == 0 ? 4 : 2
        let n = v == 1 ? s.inputCount : s.outputCount * 2 / Int(v)
        try seq.dispatch(pipeline("maxpool2d_backward", 3, PoolParams.self, [v]), [dy, index, dx], push: push, invocations: n)
    }
}
