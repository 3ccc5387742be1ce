// conv2d_forward, conv2d_backward_input and conv2d_backward_weight: stride-1, unpadded 2D convolution over NCHW
// input with OIHW weights.
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// y[n,o,oy,ox] = b[o] + sum_{c,ky,kx} x[n,c,oy+ky,ox+kx] * w[o,c,ky,kx]  (y is [N,O,OH,OW])
    @_specialize(exported: true, where T == Double)
    public static func conv2dForward<T: BinaryFloatingPoint>(_ x: [T], _ w: [T], _ b: [T], _ s: Conv2dShape) -> [T] {
        let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
        var y = [T](repeating: 0, count: s.outputCount)
        for n in 0..<s.batch {
            for o in 0..<s.outChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc = b[o]
                        for c in 0..<s.inChannels {
                            for ky in 0..<k {
                                let xRow = ((n * s.inChannels + c) * s.inHeight + oy + ky) * s.inWidth + ox
                                let wRow = ((o * s.inChannels + c) * k + ky) * k
                                for kx in 0..<k { acc += x[xRow + kx] * w[wRow + kx] }
                            }
                        }
                        y[((n * s.outChannels + o) * oh + oy) * ow + ox] = acc
                    }
                }
            }
        }
        return y
    }

    /// dx[n,c,iy,ix] = sum_{o,ky,kx} dy[n,o,iy-ky,ix-kx] * w[o,c,ky,kx]  (dx is [N,C,H,W])
    @_specialize(exported: true, where T == Double)
    public static func conv2dBackwardInput<T: BinaryFloatingPoint>(_ dy: [T], _ w: [T], _ s: Conv2dShape) -> [T] {
        let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
        var dx = [T](repeating: 0, count: s.inputCount)
        for n in 0..<s.batch {
            for o in 0..<s.outChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let g = dy[((n * s.outChannels + o) * oh + oy) * ow + ox]
                        for c in 0..<s.inChannels {
                            for ky in 0..<k {
                                let xRow = ((n * s.inChannels + c) * s.inHeight + oy + ky) * s.inWidth + ox
                                let wRow = ((o * s.inChannels + c) * k + ky) * k
                                for kx in 0..<k { dx[xRow + kx] += g * w[wRow + kx] }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// dw[o,c,ky,kx] = sum_{n,oy,ox} dy[n,o,oy,ox] * x[n,c,oy+ky,ox+kx];  db[o] = sum_{n,oy,ox} dy[n,o,oy,ox]
    @_specialize(exported: true, where T == Double)
    public static func conv2dBackwardWeight<T: BinaryFloatingPoint>(_ dy: [T], _ x: [T], _ s: Conv2dShape) -> (dw: [T], db: [T]) {
        let (oh, ow, k) = (s.outHeight, s.outWidth, s.kernel)
        var dw = [T](repeating: 0, count: s.weightCount)
        var db = [T](repeating: 0, count: s.outChannels)
        for n in 0..<s.batch {
            for o in 0..<s.outChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let g = dy[((n * s.outChannels + o) * oh + oy) * ow + ox]
                        db[o] += g
                        for c in 0..<s.inChannels {
                            for ky in 0..<k {
                                let xRow = ((n * s.inChannels + c) * s.inHeight + oy + ky) * s.inWidth + ox
                                let wRow = ((o * s.inChannels + c) * k + ky) * k
                                for kx in 0..<k { dw[wRow + kx] += g * x[xRow + kx] }
                            }
                        }
                    }
                }
            }
        }
        return (dw, db)
    }
}

struct ConvParams { var batch: UInt32; var inChannels: UInt32; var outChannels: UInt32; var inHeight: UInt32; var inWidth: UInt32 }
struct ConvForwardParams { var conv: ConvParams; var relu: UInt32 }

extension Kernels {
    /// y = conv(x, w) + b, or max(that, 0) when `relu` (the ReLU fused into the epilogue).
    public func conv2dForward(_ seq: CommandSequence, x: BufferRange, w: BufferRange, b: BufferRange, y: BufferRange, shape s: Conv2dShape, relu: Bool = false) throws {
        let k = UInt32(s.kernel), push = ConvForwardParams(conv: convParams(s), relu: relu ? 1 : 0)
        if tiles.gemmTiled {
            let plan = tiledPlan(m: s.outChannels, n: s.batch * s.outHeight * s.outWidth, k: s.inChannels * s.kernel * s.kernel, splittable: false)
            try seq.dispatch(pipeline(Self.subgroupFree("conv2d_forward"), 4, ConvForwardParams.self, plan.spec.values(after: [k, 1, 1, 0, 0])),
                             [x, w, b, y], push: push, invocations: plan.invocations, macs: s.macs)
            return
        }
        if tiles.convShare {
            let (ob, unroll) = shareChannels(s.outChannels, kernel: s.kernel)
            let xb = columnBlock(s.outWidth, max: tiles.convShareMaxColumns)
            let strips = s.batch * s.outHeight * ceilDiv(s.outWidth, xb)
            let n = ceilDiv(strips, 8) * ceilDiv(s.outChannels, ob) * 8
            try seq.dispatch(pipeline("conv2d_forward", 4, ConvForwardParams.self, [k, ob, xb, 1, unroll], workgroup: 8), [x, w, b, y],
                             push: push, invocations: n, macs: s.macs)
            return
        }
        let (ob, xb) = (tiles.convOutBlock, tiles.convColBlock)
        let n = s.batch * ceilDiv(s.outChannels, ob) * s.outHeight * ceilDiv(s.outWidth, xb)
        try seq.dispatch(pipeline(Self.subgroupFree("conv2d_forward"), 4, ConvForwardParams.self, [k, ob, xb, 0, 0]), [x, w, b, y],
                         push: push, invocations: n, macs: s.macs)
    }

    public func conv2dBackwardInput(_ seq: CommandSequence, dy: BufferRange, w: BufferRange, dx: BufferRange, shape s: Conv2dShape) throws {
        let k = UInt32(s.kernel)
        if tiles.gemmTiled {
            let plan = tiledPlan(m: s.inChannels, n: s.batch * s.inHeight * s.inWidth, k: s.outChannels * s.kernel * s.kernel, splittable: false)
            try seq.dispatch(pipeline(Self.subgroupFree("conv2d_backward_input"), 3, ConvParams.self, plan.spec.values(after: [k, 1, 1, 0, 0])),
                             [dy, w, dx], push: convParams(s), invocations: plan.invocations, macs: s.macs)
            return
        }
        if tiles.convShare {
            let (cb, unroll) = shareChannels(s.inChannels, kernel: s.kernel)
            let xb = columnBlock(s.inWidth, max: tiles.convShareMaxColumns)
            let strips = s.batch * s.inHeight * ceilDiv(s.inWidth, xb)
            let n = ceilDiv(strips, 8) * ceilDiv(s.inChannels, cb) * 8
            try seq.dispatch(pipeline("conv2d_backward_input", 3, ConvParams.self, [k, cb, xb, 1, unroll], workgroup: 8), [dy, w, dx],
                             push: convParams(s), invocations: n, macs: s.macs)
            return
        }
        let (cb, xb) = (tiles.convInBlock, tiles.convColBlock)
        let n = s.batch * ceilDiv(s.inChannels, cb) * s.inHeight * ceilDiv(s.inWidth, xb)
        try seq.dispatch(pipeline(Self.subgroupFree("conv2d_backward_input"), 3, ConvParams.self, [k, cb, xb, 0, 0]), [dy, w, dx],
                         push: convParams(s), invocations: n, macs: s.macs)
    }

    public func conv2dBackwardWeight(_ seq: CommandSequence, dy: BufferRange, x: BufferRange, dw: BufferRange, db: BufferRange, shape s: Conv2dShape) throws {
        let k = UInt32(s.kernel)
        if tiles.gemmTiled {
            try conv2dBackwardWeightTiled(seq, dy: dy, x: x, dw: dw, db: db, shape: s)
            return
        }
        if tiles.convShare {
            // Fewer channels per lane when the layer would otherwise give the two CPU threads under 4 workgroups.
            var ol = tiles.convWeightLaneChannels
            while ol > 1 && ceilDiv(s.outChannels, 8 * ol) * s.inChannels < 4 { ol /= 2 }
            // Input channels per lane: the largest divisor of inChannels that keeps the sums in budget.
            let limit = max(1, Int(tiles.convWeightAccumulators) / (Int(ol) * s.kernel * s.kernel))
            let cb = UInt32((1...min(limit, s.inChannels)).last { s.inChannels % $0 == 0 }!)
            // dy rows as vec4/vec2 loads when rows and chunks are whole vectors; the chunk is the
            // whole row when it fits, else the largest divisor of the row within the limit.
            let dv = [4, 2, 1].first { s.outWidth % $0 == 0 && dy.offset % (4 * $0) == 0 }!
            let xc = s.outWidth <= Int(tiles.convWeightMaxChunk) ? UInt32(s.outWidth)
                : UInt32((1...Int(tiles.convWeightMaxChunk)).last { s.outWidth % $0 == 0 && $0 % dv == 0 }!)
            let n = ceilDiv(s.outChannels, 8 * ol) * ceilDiv(s.inChannels, cb) * 8
            try seq.dispatch(pipeline("conv2d_backward_weight", 4, ConvParams.self, [k, ol, cb, xc, 1, UInt32(dv)], workgroup: 8), [dy, x, dw, db],
                             push: convParams(s), invocations: n, macs: s.macs + s.outputCount)
            return
        }
        let (ol, cb, xc) = (tiles.convWeightBlock, UInt32(1), tiles.convColBlock)
        let blocks = ceilDiv(s.outChannels, ol) * s.inChannels
        let rows = s.batch * s.outHeight
        let chunkRows = reductionRows(rows: rows, blocks: blocks, macs: s.macs + s.outputCount)
        guard chunkRows > 0 else {
            try seq.dispatch(pipeline(Self.subgroupFree("conv2d_backward_weight"), 4, ConvParams.self, [k, ol, cb, xc, 0, 1, 0]), [dy, x, dw, db],
                             push: convParams(s), invocations: blocks, macs: s.macs + s.outputCount)
            return
        }
        let chunks = (rows + chunkRows - 1) / chunkRows
        try splitWeightGradient(seq, dw: dw, db: db, shape: s, chunks: chunks) { pdw, pdb in
            try seq.dispatch(pipeline(Self.subgroupFree("conv2d_backward_weight"), 4, ConvParams.self, [k, ol, cb, xc, 0, 1, UInt32(chunkRows)]), [dy, x, pdw, pdb],
                             push: convParams(s), invocations: blocks * chunks, macs: s.macs + s.outputCount)
        }
    }

    /// A weight gradient summed in `chunks` parts: `dispatch` writes each chunk's partial dw and db into scratch
    /// (dw's, then db's at a 256-byte boundary), and chunk_sum adds them in chunk order into dw and db.
    private func splitWeightGradient(_ seq: CommandSequence, dw: BufferRange, db: BufferRange, shape s: Conv2dShape, chunks: Int,
                                     dispatch: (BufferRange, BufferRange) throws -> Void) throws {
        let dwFloats = chunks * s.weightCount, dbAt = (dwFloats + 63) / 64 * 64
        let partial = try scratchRange(floats: dbAt + chunks * s.outChannels)
        try dispatch(partial.floats(0, dwFloats), partial.floats(dbAt, chunks * s.outChannels))
        try chunkSum(seq, x: partial.floats(0, dwFloats), y: dw, count: s.weightCount, chunks: chunks)
        try chunkSum(seq, x: partial.floats(dbAt, chunks * s.outChannels), y: db, count: s.outChannels, chunks: chunks)
    }

    /// The implicit GEMM dw = dy x im2col(x) on the shared-memory tiles (db its row sums), the sum over the
    /// batch's positions split into chunks of k when the GPU bounds want it (partial sums to scratch,
    /// added in chunk order by chunk_sum).
    private func conv2dBackwardWeightTiled(_ seq: CommandSequence, dy: BufferRange, x: BufferRange, dw: BufferRange, db: BufferRange, shape s: Conv2dShape) throws {
        let plan = tiledPlan(m: s.outChannels, n: s.weightCount / s.outChannels, k: s.batch * s.outHeight * s.outWidth, splittable: true)
        let name = Self.subgroupFree("conv2d_backward_weight"), own: [UInt32] = [UInt32(s.kernel), 1, 1, 1, 0, 1, 0]
        let macs = s.macs + s.outputCount
        guard plan.chunks > 1 else {
            try seq.dispatch(pipeline(name, 4, ConvParams.self, plan.spec.values(after: own)), [dy, x, dw, db],
                             push: convParams(s), invocations: plan.invocations, macs: macs)
            return
        }
        try splitWeightGradient(seq, dw: dw, db: db, shape: s, chunks: plan.chunks) { pdw, pdb in
            try seq.dispatch(pipeline(name, 4, ConvParams.self, plan.spec.values(after: own)), [dy, x, pdw, pdb],
                             push: convParams(s), invocations: plan.invocations, macs: macs)
        }
    }

    private func convParams(_ s: Conv2dShape) -> ConvParams {
        ConvParams(batch: UInt32(s.batch), inChannels: UInt32(s.inChannels), outChannels: UInt32(s.outChannels),
                   inHeight: UInt32(s.inHeight), inWidth: UInt32(s.inWidth))
    }

    /// SHARE conv2d_forward / backward_input: channels per workgroup and whether the kernel-row loop
    /// is unrolled (1), for a layer with `channels` channels in the blocked dimension.
    private func shareChannels(_ channels: Int, kernel: Int) -> (UInt32, UInt32) {
        let unroll = kernel <= Int(tiles.convShareUnrollMaxKernel)
        let wide = unroll && channels >= Int(tiles.convShareUnrolledChannels)
        let block = wide ? tiles.convShareUnrolledChannels : tiles.convShareChannels
        precondition(block % 8 == 0, "SHARE channel blocks must be multiples of 8")
        return (block, unroll ? 1 : 0)
    }
}
