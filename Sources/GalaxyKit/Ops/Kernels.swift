import Foundation

/// Register-blocking factors of the shaders, chosen per device through specialization constants.
public struct TileConfig: Sendable, Equatable {
    public var workgroupSize: UInt32 = 64
    public var convOutBlock: UInt32 = 8      // conv2d_forward: output channels per invocation
    public var convColBlock: UInt32 = 4      // conv2d_forward / backward_input: columns per invocation
    public var convInBlock: UInt32 = 4       // conv2d_backward_input: input channels per invocation
    public var convWeightBlock: UInt32 = 4   // conv2d_backward_weight: output channels per invocation
    public var linearRowBlock: UInt32 = 4    // sgemm / linear_* portable path: rows of C per invocation
    public var linearColBlock: UInt32 = 4    // sgemm / linear_* portable path: columns of C per invocation
    /// sgemm and linear_* (gemm.glsl) SHARE path: one 8-lane subgroup per workgroup owning `gemmRows` rows
    /// of C, A spread with subgroupBroadcast, each lane `gemmLaneColumns` columns of all those rows (lavapipe).
    public var gemmShare = false
    public var gemmRows: UInt32 = 64           // SHARE: rows of C per workgroup (a multiple of 8)
    public var gemmLaneColumns: UInt32 = 8     // SHARE: columns of C per lane (a multiple of 4)
    /// Conv shaders' SHARE path: one 8-lane subgroup per workgroup, operands loaded once and
    /// spread with subgroupBroadcast (lavapipe, where every storage-buffer load is per lane).
    public var convShare = false
    public var convShareChannels: UInt32 = 32  // SHARE: channels per workgroup (a multiple of 8)
    public var convShareMaxColumns: UInt32 = 32 // SHARE: columns per lane at most (fitted to the width)
    // SHARE, kernels up to this size: the kernel-row loop unrolled and convShareUnrolledChannels per
    // workgroup (where the layer has that many), since llvmpipe pays per loop-carried accumulator.
    public var convShareUnrollMaxKernel: UInt32 = 3
    public var convShareUnrolledChannels: UInt32 = 64
    public var convWeightLaneChannels: UInt32 = 4  // SHARE conv2d_backward_weight: output channels per lane (2 when too few workgroups)
    public var convWeightAccumulators: UInt32 = 576 // SHARE conv2d_backward_weight: dw sums per lane at most
    public var convWeightMaxChunk: UInt32 = 16   // SHARE conv2d_backward_weight: dy columns per step at most
    /// Portable (GPU) path: a weight-gradient reduction is split into chunks of dy rows (their partial sums
    /// added by chunk_sum in a fixed order) until it launches at least `minInvocations` invocations and
    /// none sums more than `maxSerialMACs` multiply-adds, as far as the rows allow.
    public var minInvocations = 16_384
    public var maxSerialMACs = 1 << 17

    public init() {}

    /// What lavapipe with 8-lane subgroups gets: the SHARE paths.
    public static var lavapipe: TileConfig {
        var t = TileConfig()
        (t.convShare, t.gemmShare) = (true, true)
        return t
    }

    /// lavapipe's SHARE paths with about a quarter of the sums per lane (at most 256 in conv2d_forward /
    /// backward_input, 144 in conv2d_backward_weight, 128 in the GEMM core). llvmpipe's compile time grows
    /// much faster than linearly with the values a lane keeps (LLVM's coroutine-frame pass): these compile
    /// in 2-7 s per pipeline instead of 10-65 s, and run their kernels about 1.5x slower
    /// (docs/performance.md). Every sum is added in the same order as in `lavapipe`, so both give the same bits.
    public static var lavapipeQuick: TileConfig {
        var t = lavapipe
        (t.convShareChannels, t.convShareUnrolledChannels, t.convShareMaxColumns) = (16, 16, 16)
        (t.convWeightAccumulators, t.convWeightMaxChunk) = (144, 8)
        (t.gemmRows, t.gemmLaneColumns) = (32, 4)
        return t
    }

    /// Image passes (images x epochs trained, or images inferred) below which the quick tiles win on
    /// lavapipe: the full tiles take about 5 minutes longer to compile (once per machine) and about 20 s
    /// longer to create (every process), and save about 15 ms per trained image on the 2-core machine.
    public static let quickCompileImages = 20_000

    /// The configuration for a job of `images` image passes. On lavapipe: the portable tiles for inference
    /// of up to one batch (128: predict of a few images, where creating the SHARE pipelines costs more
    /// than running them), the quick SHARE tiles below `quickCompileImages`, the full ones above; training
    /// never gets the portable tiles (its backward pass is 3x slower there), so on lavapipe a run's bits do
    /// not depend on its length (quick and full tiles add in the same order). `GALAXY_TILES` (full, quick,
    /// portable) overrides that. GPUs get `forDevice`.
    public static func forWork(_ info: DeviceInfo, images: Int, training: Bool = false) -> TileConfig {
        guard info.type == "CPU" else { return forDevice(info) }
        let shareable = info.sharesOperands
        switch ProcessInfo.processInfo.environment["GALAXY_TILES"] {
        case "full": return forDevice(info)
        case "quick": return shareable ? lavapipeQuick : TileConfig()
        case "portable": return TileConfig()
        default: break
        }
        if (images <= 128 && !training) || !shareable { return TileConfig() }
        return images < quickCompileImages ? lavapipeQuick : lavapipe
    }

    /// What a short training run gets (the demo, the tests, selftest's network checks): the quick tiles on
    /// lavapipe, the device's own on a GPU.
    public static func forSmallJob(_ info: DeviceInfo) -> TileConfig { forWork(info, images: 1_000, training: true) }

    /// What a GPU gets: the portable paths, 128-invocation workgroups, split reductions.
    public static var gpu: TileConfig {
        var t = TileConfig()
        t.workgroupSize = 128
        return t
    }

    /// The configuration for a device: lavapipe's 8-lane subgroups want small workgroups; GPUs want more threads.
    public static func forDevice(_ info: DeviceInfo) -> TileConfig {
        guard info.type == "CPU" else { return gpu }
        return info.sharesOperands ? lavapipe : TileConfig()
    }
}

// Host mirrors of the shaders' push-constant blocks (sizes are asserted at dispatch).
struct CountParams { var count: UInt32 }
struct PoolParams { var planes: UInt32; var height: UInt32; var width: UInt32 }
struct GemmParams { var m: UInt32; var n: UInt32; var k: UInt32 }
struct LinearParams { var batch: UInt32; var inFeatures: UInt32; var outFeatures: UInt32 }
struct LinearForwardParams { var linear: LinearParams; var relu: UInt32 }
struct ConvParams { var batch: UInt32; var inChannels: UInt32; var outChannels: UInt32; var inHeight: UInt32; var inWidth: UInt32 }
struct ConvForwardParams { var conv: ConvParams; var relu: UInt32 }
struct MSEBackwardParams { var count: UInt32; var denominator: UInt32 }
struct MSEParams { var count: UInt32; var slot: UInt32; var accumulate: UInt32 }
struct SGDParams { var count: UInt32; var lr: Float; var momentum: Float }
struct ChunkSumParams { var count: UInt32; var chunks: UInt32 }

private func ceilDiv(_ a: Int, _ b: UInt32) -> Int { (a + Int(b) - 1) / Int(b) }

/// Records each op's shader into a CommandSequence. One method per shader, named like it.
public final class Kernels {
    public let context: VulkanContext
    public let tiles: TileConfig

    public init(_ context: VulkanContext, tiles: TileConfig? = nil) {
        self.context = context
        self.tiles = tiles ?? TileConfig.forDevice(context.info)
    }

    /// Scratch for split reductions' partial sums, grown on demand. A sequence keeps the buffers it
    /// recorded alive, and CommandSequence orders the dispatches that share it (barriers on overlap).
    private var scratch: DeviceBuffer?
    public var scratchBytes: Int { scratch?.size ?? 0 }

    private func scratchRange(floats: Int) throws -> DeviceBuffer {
        if let scratch, scratch.size >= floats * 4 { return scratch }
        let b = try DeviceBuffer(context, floats: floats, label: "split-reduction scratch")
        scratch = b
        return b
    }

    /// Rows per chunk for a reduction over `rows` rows in `blocks` independent invocations of
    /// `macs` multiply-adds in all: 0 (no split) when the device's own tiles share operands (lavapipe)
    /// or when the bounds already hold.
    func reductionRows(rows: Int, blocks: Int, macs: Int) -> Int {
        let perBlock = (macs + blocks - 1) / blocks
        let needed = max((tiles.minInvocations + blocks - 1) / blocks, perBlock <= tiles.maxSerialMACs ? 1 : (perBlock - 1) / tiles.maxSerialMACs + 1)
        guard needed > 1, rows > 1 else { return 0 }
        return (rows + min(needed, rows) - 1) / min(needed, rows)
    }

    /// y[i] = sum over `chunks` of x[h * count + i].
    public func chunkSum(_ seq: CommandSequence, x: BufferRange, y: BufferRange, count: Int, chunks: Int) throws {
        try seq.dispatch(pipeline("chunk_sum", 2, ChunkSumParams.self), [x, y], push: ChunkSumParams(count: UInt32(count), chunks: UInt32(chunks)),
                         invocations: count, macs: count * chunks)
    }

    private func pipeline<P>(_ name: String, _ bindings: Int, _: P.Type, _ spec: [UInt32] = [], workgroup: UInt32? = nil) throws -> ComputePipeline {
        try context.pipeline(name, bindings: bindings, pushSize: MemoryLayout<P>.size, specialization: [workgroup ?? tiles.workgroupSize] + spec)
    }

    /// The build of a GEMM-shaped shader without subgroup operations (CompileShaders' `_nosg`), which the
    /// portable tiles use: it declares no subgroup capability, so it runs on any Vulkan 1.1 device.
    static func subgroupFree(_ name: String) -> String { name + "_nosg" }

    /// Columns per lane for a row of `width` outputs: the block in 4...max (or smaller when the row
    /// is) that wastes the fewest columns, the larger on ties.
    private func columnBlock(_ width: Int, max: UInt32) -> UInt32 {
        let hi = Swift.max(1, Swift.min(Int(max), width))
        let lo = Swift.min(4, hi)
        let best = (lo...hi).min { a, b in
            let (wa, wb) = ((width + a - 1) / a * a - width, (width + b - 1) / b * b - width)
            return wa != wb ? wa < wb : a > b
        }!
        return UInt32(best)
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

    /// 4 when `count` floats in every range can be read as whole, aligned vec4s, else 1.
    private func vectorWidth(_ count: Int, _ ranges: [BufferRange]) -> UInt32 {
        count % 4 == 0 && ranges.allSatisfy { $0.offset % 16 == 0 } ? 4 : 1
    }

    public func reluForward(_ seq: CommandSequence, x: BufferRange, y: BufferRange, count: Int) throws {
        let v = vectorWidth(count, [x, y])
        try seq.dispatch(pipeline("relu_forward", 2, CountParams.self, [v]), [x, y], push: CountParams(count: UInt32(count)), invocations: count / Int(v))
    }

    public func reluBackward(_ seq: CommandSequence, y: BufferRange, dy: BufferRange, dx: BufferRange, count: Int) throws {
        let v = vectorWidth(count, [y, dy, dx])
        try seq.dispatch(pipeline("relu_backward", 3, CountParams.self, [v]), [y, dy, dx], push: CountParams(count: UInt32(count)), invocations: count / Int(v))
    }

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

    /// C = A * B, float32, row-major (A [m,k], B [k,n], C [m,n]).
    public func sgemm(_ seq: CommandSequence, a: BufferRange, b: BufferRange, c: BufferRange, shape s: GemmShape) throws {
        try gemm(seq, "sgemm", [a, b, c], push: GemmParams(m: UInt32(s.m), n: UInt32(s.n), k: UInt32(s.k)), m: s.m, n: s.n,
                 va: vectorWidth(s.k, [a]), vb: vectorWidth(s.n, [b]), macs: s.macs)
    }

    /// y = x * w^T + b, or max(that, 0) with `relu` (a GEMM with A = x, B = w^T).
    public func linearForward(_ seq: CommandSequence, x: BufferRange, w: BufferRange, b: BufferRange, y: BufferRange, shape s: LinearShape, relu: Bool = false) throws {
        let push = LinearForwardParams(linear: linearParams(s), relu: relu ? 1 : 0)
        try gemm(seq, "linear_forward", [x, w, b, y], push: push, m: s.batch, n: s.outFeatures,
                 va: vectorWidth(s.inFeatures, [x]), vb: vectorWidth(s.inFeatures, [w]), macs: s.macs)
    }

    /// dx = dy * w (a GEMM with A = dy, B = w).
    public func linearBackwardInput(_ seq: CommandSequence, dy: BufferRange, w: BufferRange, dx: BufferRange, shape s: LinearShape) throws {
        try gemm(seq, "linear_backward_input", [dy, w, dx], push: linearParams(s), m: s.batch, n: s.inFeatures,
                 va: vectorWidth(s.outFeatures, [dy]), vb: vectorWidth(s.inFeatures, [w]), macs: s.macs)
    }

    /// dw = dy^T * x and db = column sums of dy (a GEMM with A = dy^T, B = x; db the row sums of A).
    public func linearBackwardWeight(_ seq: CommandSequence, dy: BufferRange, x: BufferRange, dw: BufferRange, db: BufferRange, shape s: LinearShape) throws {
        try gemm(seq, "linear_backward_weight", [dy, x, dw, db], push: linearParams(s), m: s.outFeatures, n: s.inFeatures,
                 va: vectorWidth(s.outFeatures, [dy]), vb: vectorWidth(s.inFeatures, [x]), macs: s.macs + s.batch * s.outFeatures)
    }

    /// Dispatches a gemm.glsl shader producing an m x n C: spec constants SHARE, NC, MB, VA, VB.
    /// `va` / `vb`: 4 when A / B may be read as vec4s along their contiguous axis (see gemm.glsl).
    private func gemm<P: BitwiseCopyable>(_ seq: CommandSequence, _ name: String, _ bindings: [BufferRange], push: P, m: Int, n: Int,
                         va: UInt32, vb: UInt32, macs: Int) throws {
        if tiles.gemmShare {
            let (mb, nc) = (tiles.gemmRows, tiles.gemmLaneColumns)
            precondition(nc % 4 == 0 && nc > 0, "gemmLaneColumns must be a positive multiple of 4")
            precondition(mb % 8 == 0 && mb > 0, "gemmRows must be a positive multiple of 8")
            let groups = ceilDiv(m, mb) * ceilDiv(n, 8 * nc)
            try seq.dispatch(pipeline(name, bindings.count, P.self, [1, nc, mb, va, vb], workgroup: 8), bindings,
                             push: push, invocations: groups * 8, macs: macs)
            return
        }
        // Smaller blocks (the larger side halved first) while a small C would leave a GPU idle.
        var (mb, nc) = (tiles.linearRowBlock, tiles.linearColBlock)
        while ceilDiv(m, mb) * ceilDiv(n, nc) < tiles.minInvocations && (mb > 1 || nc > 1) {
            if mb >= nc { mb = max(1, mb / 2) } else { nc = max(1, nc / 2) }
        }
        try seq.dispatch(pipeline(Self.subgroupFree(name), bindings.count, P.self, [0, nc, mb, va, vb]), bindings,
                         push: push, invocations: ceilDiv(m, mb) * ceilDiv(n, nc), macs: macs)
    }

    /// y = conv(x, w) + b, or max(that, 0) when `relu` (the ReLU fused into the epilogue).
    public func conv2dForward(_ seq: CommandSequence, x: BufferRange, w: BufferRange, b: BufferRange, y: BufferRange, shape s: Conv2dShape, relu: Bool = false) throws {
        let k = UInt32(s.kernel), push = ConvForwardParams(conv: convParams(s), relu: relu ? 1 : 0)
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
        // Partial sums of each chunk into scratch (dw's, then db's at a 256-byte boundary), then added in order.
        let chunks = (rows + chunkRows - 1) / chunkRows
        let dwFloats = chunks * s.weightCount, dbAt = (dwFloats + 63) / 64 * 64
        let partial = try scratchRange(floats: dbAt + chunks * s.outChannels)
        let (pdw, pdb) = (partial.floats(0, dwFloats), partial.floats(dbAt, chunks * s.outChannels))
        try seq.dispatch(pipeline(Self.subgroupFree("conv2d_backward_weight"), 4, ConvParams.self, [k, ol, cb, xc, 0, 1, UInt32(chunkRows)]), [dy, x, pdw, pdb],
                         push: convParams(s), invocations: blocks * chunks, macs: s.macs + s.outputCount)
        try chunkSum(seq, x: pdw, y: dw, count: s.weightCount, chunks: chunks)
        try chunkSum(seq, x: pdb, y: db, count: s.outChannels, chunks: chunks)
    }

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

    public func sgdMomentum(_ seq: CommandSequence, weights: BufferRange, grads: BufferRange, buffer: BufferRange, count: Int, lr: Float, momentum: Float) throws {
        let push = SGDParams(count: UInt32(count), lr: lr, momentum: momentum)
        try seq.dispatch(pipeline("sgd_momentum", 3, SGDParams.self), [weights, grads, buffer], push: push, invocations: count)
    }

    private func linearParams(_ s: LinearShape) -> LinearParams {
        LinearParams(batch: UInt32(s.batch), inFeatures: UInt32(s.inFeatures), outFeatures: UInt32(s.outFeatures))
    }

    private func convParams(_ s: Conv2dShape) -> ConvParams {
        ConvParams(batch: UInt32(s.batch), inChannels: UInt32(s.inChannels), outChannels: UInt32(s.outChannels),
                   inHeight: UInt32(s.inHeight), inWidth: UInt32(s.inWidth))
    }
}
