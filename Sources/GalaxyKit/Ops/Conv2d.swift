// conv2d_forward, conv2d_backward_input and conv2d_backward_weight: stride-1, unpadded 2D convolution over NCHW
// input with OIHW weights.
// The op's CPU reference (the specification its test holds the shader to), the host mirror of its
// push constants, and its recording.

extension Reference {
    /// y[n,o,oy,ox] = b[o] + sum_{c,ky,kx} x[n,c,oy+ky,ox+kx] * w[o,c,ky,kx]  (y is [N,O,OH,OW])
    @_specialize(where T == Float)
    @_specialize(where T == Double)
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
    @_specialize(where T == Float)
    @_specialize(where T == Double)
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
    @_specialize(where T == Float)
    @_specialize(where T == Double)
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
        switch path {
        case .sharedMemory(let t):
            let plan = tiledPlan(t, m: s.outChannels, n: s.batch * s.outHeight * s.outWidth, k: s.inChannels * s.kernel * s.kernel, splittable: false)
            try seq.dispatch(pipeline(Self.subgroupFree("conv2d_forward"), 4, ConvForwardParams.self, plan.spec.values(after: [k, 1, 1, 0, 0])),
                             [x, w, b, y], push: push, invocations: plan.invocations, macs: s.macs)
        case .subgroupShare(let t):
            let (ob, unroll) = shareChannels(t, s.outChannels, kernel: s.kernel)
            let xb = columnBlock(s.outWidth, max: t.convMaxColumns)
            let strips = s.batch * s.outHeight * ceilDiv(s.outWidth, xb)
            let n = ceilDiv(strips, 8) * ceilDiv(s.outChannels, ob) * 8
            try seq.dispatch(pipeline("conv2d_forward", 4, ConvForwardParams.self, [k, ob, xb, 1, unroll], workgroup: SubgroupShareTiles.lanes), [x, w, b, y],
                             push: push, invocations: n, macs: s.macs)
        case .portable(let t):
            let (ob, xb) = (t.convOutputChannels, t.convColumns)
            let n = s.batch * ceilDiv(s.outChannels, ob) * s.outHeight * ceilDiv(s.outWidth, xb)
            try seq.dispatch(pipeline(Self.subgroupFree("conv2d_forward"), 4, ConvForwardParams.self, [k, ob, xb, 0, 0]), [x, w, b, y],
                             push: push, invocations: n, macs: s.macs)
        }
    }

    public func conv2dBackwardInput(_ seq: CommandSequence, dy: BufferRange, w: BufferRange, dx: BufferRange, shape s: Conv2dShape) throws {
        let k = UInt32(s.kernel)
        switch path {
        case .sharedMemory(let t):
            let plan = tiledPlan(t, m: s.inChannels, n: s.batch * s.inHeight * s.inWidth, k: s.outChannels * s.kernel * s.kernel, splittable: false)
            try seq.dispatch(pipeline(Self.subgroupFree("conv2d_backward_input"), 3, ConvParams.self, plan.spec.values(after: [k, 1, 1, 0, 0])),
                             [dy, w, dx], push: convParams(s), invocations: plan.invocations, macs: s.macs)
        case .subgroupShare(let t):
            let (cb, unroll) = shareChannels(t, s.inChannels, kernel: s.kernel)
            let xb = columnBlock(s.inWidth, max: t.convMaxColumns)
            let strips = s.batch * s.inHeight * ceilDiv(s.inWidth, xb)
            let n = ceilDiv(strips, 8) * ceilDiv(s.inChannels, cb) * 8
            try seq.dispatch(pipeline("conv2d_backward_input", 3, ConvParams.self, [k, cb, xb, 1, unroll], workgroup: SubgroupShareTiles.lanes), [dy, w, dx],
                             push: convParams(s), invocations: n, macs: s.macs)
        case .portable(let t):
            let (cb, xb) = (t.convInputChannels, t.convColumns)
            let n = s.batch * ceilDiv(s.inChannels, cb) * s.inHeight * ceilDiv(s.inWidth, xb)
            try seq.dispatch(pipeline(Self.subgroupFree("conv2d_backward_input"), 3, ConvParams.self, [k, cb, xb, 0, 0]), [dy, w, dx],
                             push: convParams(s), invocations: n, macs: s.macs)
        }
    }

    public func conv2dBackwardWeight(_ seq: CommandSequence, dy: BufferRange, x: BufferRange, dw: BufferRange, db: BufferRange, shape s: Conv2dShape) throws {
        switch path {
        case .sharedMemory(let t): try conv2dBackwardWeightTiled(t, seq, dy: dy, x: x, dw: dw, db: db, shape: s)
        case .subgroupShare(let t): try conv2dBackwardWeightShare(t, seq, dy: dy, x: x, dw: dw, db: db, shape: s)
        case .portable(let t): try conv2dBackwardWeightPortable(t, seq, dy: dy, x: x, dw: dw, db: db, shape: s)
        }
    }

    /// One 8-lane subgroup per workgroup: `ol` output channels x `cb` input channels of dw per lane, the
    /// batch's positions summed in order in each lane.
    private func conv2dBackwardWeightShare(_ t: SubgroupShareTiles, _ seq: CommandSequence, dy: BufferRange, x: BufferRange, dw: BufferRange, db: BufferRange,
                                           shape s: Conv2dShape) throws {
        let k = UInt32(s.kernel)
        // Fewer channels per lane when the layer would otherwise give the two CPU threads under 4 workgroups.
        var ol = t.weightLaneChannels
        while ol > 1 && ceilDiv(s.outChannels, 8 * ol) * s.inChannels < 4 { ol /= 2 }
        // Input channels per lane: the largest divisor of inChannels that keeps the sums in budget.
        let limit = max(1, Int(t.weightAccumulators) / (Int(ol) * s.kernel * s.kernel))
        let cb = UInt32((1...min(limit, s.inChannels)).last { s.inChannels % $0 == 0 }!)
        // dy rows as vec4/vec2 loads when rows and chunks are whole vectors; the chunk is the
        // whole row when it fits, else the largest divisor of the row within the limit.
        let dv = [4, 2, 1].first { s.outWidth % $0 == 0 && dy.offset % (4 * $0) == 0 }!
        let xc = s.outWidth <= Int(t.weightMaxChunk) ? UInt32(s.outWidth)
            : UInt32((1...Int(t.weightMaxChunk)).last { s.outWidth % $0 == 0 && $0 % dv == 0 }!)
        let n = ceilDiv(s.outChannels, 8 * ol) * ceilDiv(s.inChannels, cb) * 8
        try seq.dispatch(pipeline("conv2d_backward_weight", 4, ConvParams.self, [k, ol, cb, xc, 1, UInt32(dv)], workgroup: SubgroupShareTiles.lanes), [dy, x, dw, db],
                         push: convParams(s), invocations: n, macs: s.macs + s.outputCount)
    }

    /// A block of output channels of one input channel's dw per invocation; the sum over the batch's rows
    /// split into chunks (partial sums added by chunk_sum) when `bounds` want more invocations or shorter sums.
    private func conv2dBackwardWeightPortable(_ t: PortableTiles, _ seq: CommandSequence, dy: BufferRange, x: BufferRange, dw: BufferRange, db: BufferRange,
                                              shape s: Conv2dShape) throws {
        let k = UInt32(s.kernel)
        let (ol, cb, xc) = (t.convWeightChannels, UInt32(1), t.convColumns)
        let blocks = ceilDiv(s.outChannels, ol) * s.inChannels
        let rows = s.batch * s.outHeight
        let chunkRows = reductionRows(rows: rows, blocks: blocks, macs: s.macs + s.outputCount, bounds: t.bounds)
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
    private func conv2dBackwardWeightTiled(_ t: SharedMemoryTiles, _ seq: CommandSequence, dy: BufferRange, x: BufferRange, dw: BufferRange, db: BufferRange,
                                           shape s: Conv2dShape) throws {
        let plan = tiledPlan(t, m: s.outChannels, n: s.weightCount / s.outChannels, k: s.batch * s.outHeight * s.outWidth, splittable: true)
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

    /// The share path's conv2d_forward / backward_input: channels per workgroup and whether the kernel-row
    /// loop is unrolled (1), for a layer with `channels` channels in the blocked dimension.
    private func shareChannels(_ t: SubgroupShareTiles, _ channels: Int, kernel: Int) -> (UInt32, UInt32) {
        let unroll = kernel <= Int(t.convUnrollMaxKernel)
        let wide = unroll && channels >= Int(t.convUnrolledChannels)
        let block = wide ? t.convUnrolledChannels : t.convChannels
        precondition(block % 8 == 0, "SHARE channel blocks must be multiples of 8")
        return (block, unroll ? 1 : 0)
    }
}
