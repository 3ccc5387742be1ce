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
    /// GPUs: every GEMM-shaped op (convolutions as implicit GEMMs) through gemm.glsl's shared-memory tiles
    /// (`Kernels.tiledPlan`), `tiledDepth` steps of k per stage.
    public var gemmTiled = false
    public var tiledDepth: UInt32 = 16
    /// Tiled path: a split reduction is also split until it launches this many workgroups (a GPU of 132
    /// multiprocessors holds about 8 workgroups of 256 invocations on each: 1,056 fill it once).
    public var minWorkgroups = 0

    public init() {}

    /// lavapipe's SHARE paths with wide register blocks (up to 1,024 sums per lane in conv2d_forward): the base
    /// of `lavapipeQuick`, no longer used itself. llvmpipe takes minutes to compile it once per machine (LLVM's
    /// coroutine-frame pass is super-linear in the values a lane keeps), and measured side by side with the
    /// quick tiles it trained no faster (docs/performance.md, v3 final).
    public static var lavapipe: TileConfig {
        var t = TileConfig()
        (t.convShare, t.gemmShare) = (true, true)
        return t
    }

    /// What lavapipe with 8-lane subgroups gets (`forDevice`): the SHARE paths with about a quarter of `lavapipe`'s sums per lane (at most
    /// 256 in conv2d_forward / backward_input, 144 in conv2d_backward_weight, 128 in the GEMM core), which
    /// llvmpipe compiles in 2-7 s per pipeline instead of 10-65 s. Every sum is added in the same order as in
    /// `lavapipe`, so both give the same bits.
    public static var lavapipeQuick: TileConfig {
        var t = lavapipe
        (t.convShareChannels, t.convShareUnrolledChannels, t.convShareMaxColumns) = (16, 16, 16)
        (t.convWeightAccumulators, t.convWeightMaxChunk) = (144, 8)
        (t.gemmRows, t.gemmLaneColumns) = (32, 4)
        return t
    }

    /// The SHARE paths with the smallest blocks (8 channels or rows per workgroup): the op tests compare them
    /// bit for bit with `lavapipeQuick` (the same sums in the same order whatever the SHARE blocks).
    public static var lavapipeNarrow: TileConfig {
        var t = lavapipeQuick
        (t.convShareChannels, t.convShareUnrolledChannels, t.convShareMaxColumns) = (8, 8, 8)
        (t.convWeightAccumulators, t.gemmRows, t.gemmLaneColumns) = (72, 8, 4)
        return t
    }

    /// The configuration for a job of `images` image passes (images x epochs trained, or images inferred).
    /// On lavapipe: the portable tiles for inference of up to one batch (128: predict of a few images, where
    /// creating the SHARE pipelines costs more than running them), else the quick SHARE tiles; training never
    /// gets the portable tiles (its backward pass is 3x slower there). `GALAXY_TILES` (quick, portable, gpu: the
    /// shared-memory tiles GPUs get) overrides that. GPUs get `forDevice`.
    public static func forWork(_ info: DeviceInfo, images: Int, training: Bool = false) -> TileConfig {
        guard info.type == "CPU" else { return forDevice(info) }
        let shareable = info.sharesOperands
        switch ProcessInfo.processInfo.environment["GALAXY_TILES"] {
        case "quick": return shareable ? lavapipeQuick : TileConfig()
        case "portable": return TileConfig()
        case "gpu": return gpu
        default: break
        }
        if (images <= 128 && !training) || !shareable { return TileConfig() }
        return lavapipeQuick
    }

    /// What a short training run gets (the demo, the tests, selftest's network checks): the quick tiles on
    /// lavapipe, the device's own on a GPU.
    public static func forSmallJob(_ info: DeviceInfo) -> TileConfig { forWork(info, images: 1_000, training: true) }

    /// What a GPU gets: shared-memory tiles for every GEMM-shaped op, 256-invocation workgroups (fewer
    /// where the device allows fewer: `Kernels` fits them), split reductions.
    public static var gpu: TileConfig {
        var t = TileConfig()
        t.workgroupSize = 256
        t.gemmTiled = true
        t.minWorkgroups = 1_024
        return t
    }

    /// The configuration for a device: lavapipe's 8-lane subgroups want small workgroups; GPUs want more threads.
    public static func forDevice(_ info: DeviceInfo) -> TileConfig {
        guard info.type == "CPU" else { return gpu }
        return info.sharesOperands ? lavapipeQuick : TileConfig()
    }
}

func ceilDiv(_ a: Int, _ b: UInt32) -> Int { (a + Int(b) - 1) / Int(b) }

/// gemm.glsl's specialization constants (ids 11-19), after the including shader's own (ids 1-10; the
/// convolutions have theirs there).
struct GemmSpec {
    var share = false
    var nc: UInt32 = 4, mb: UInt32 = 4, va: UInt32 = 1, vb: UInt32 = 1
    var tiled = false
    var tc: UInt32 = 1, bk: UInt32 = 1, kChunk: UInt32 = 0

    /// Values for ids 1...19 (id 0, the workgroup size, is prepended by `Kernels.pipeline`).
    func values(after own: [UInt32] = []) -> [UInt32] {
        precondition(own.count <= 10, "a GEMM shader's own specialization constants take ids 1-10")
        return own + [UInt32](repeating: 0, count: 10 - own.count) + [share ? 1 : 0, nc, mb, va, vb, tiled ? 1 : 0, tc, bk, kChunk]
    }
}

/// A tiled GEMM's dispatch: its specialization, its chunks of k (1: unsplit) and invocations.
struct TiledPlan {
    var spec: GemmSpec
    var chunks: Int
    var invocations: Int
}

/// Records each op's shader into a CommandSequence: one method per shader, named like it, in the op's
/// own file (Conv2d.swift, Linear.swift, ...) with its CPU reference and push-constant struct. This file
/// holds what they share: tiles, pipelines, the split-reduction scratch and the GEMM core's dispatch.
public final class Kernels {
    public let context: VulkanContext
    public let tiles: TileConfig

    public init(_ context: VulkanContext, tiles: TileConfig? = nil) {
        self.context = context
        var t = tiles ?? TileConfig.forDevice(context.info)
        // The largest power of two the device allows, for the tiled path's workgroups (at least 128 by the spec).
        let most = min(context.limits.maxComputeWorkGroupInvocations, context.limits.maxComputeWorkGroupSize.0)
        while t.gemmTiled && t.workgroupSize > most && t.workgroupSize > 64 { t.workgroupSize /= 2 }
        self.tiles = t
    }

    /// Scratch for split reductions' partial sums, grown on demand. A sequence keeps the buffers it
    /// recorded alive, and CommandSequence orders the dispatches that share it (barriers on overlap).
    private var scratch: DeviceBuffer?
    public var scratchBytes: Int { scratch?.size ?? 0 }

    func scratchRange(floats: Int) throws -> DeviceBuffer {
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

    func pipeline<P>(_ name: String, _ bindings: Int, _: P.Type, _ spec: [UInt32] = [], workgroup: UInt32? = nil) throws -> ComputePipeline {
        try context.pipeline(name, bindings: bindings, pushSize: MemoryLayout<P>.size, specialization: [workgroup ?? tiles.workgroupSize] + spec)
    }

    /// The build of a GEMM-shaped shader without subgroup operations (CompileShaders' `_nosg`), which the
    /// portable tiles use: it declares no subgroup capability, so it runs on any Vulkan 1.1 device.
    static func subgroupFree(_ name: String) -> String { name + "_nosg" }

    /// Columns per lane for a row of `width` outputs: the block in 4...max (or smaller when the row
    /// is) that wastes the fewest columns, the larger on ties.
    func columnBlock(_ width: Int, max: UInt32) -> UInt32 {
        let hi = Swift.max(1, Swift.min(Int(max), width))
        let lo = Swift.min(4, hi)
        let best = (lo...hi).min { a, b in
            let (wa, wb) = ((width + a - 1) / a * a - width, (width + b - 1) / b * b - width)
            return wa != wb ? wa < wb : a > b
        }!
        return UInt32(best)
    }

    /// 4 when `count` floats in every range can be read as whole, aligned vec4s, else 1.
    func vectorWidth(_ count: Int, _ ranges: [BufferRange]) -> UInt32 {
        count % 4 == 0 && ranges.allSatisfy { $0.offset % 16 == 0 } ? 4 : 1
    }

    /// Dispatches a gemm.glsl shader producing an m x n C from k steps: the device's path (SHARE on lavapipe,
    /// TILED on GPUs, else portable). `va` / `vb`: 4 when A / B may be read as vec4s along their contiguous
    /// axis (see gemm.glsl).
    func gemm<P: BitwiseCopyable>(_ seq: CommandSequence, _ name: String, _ bindings: [BufferRange], push: P, m: Int, n: Int, k: Int,
                         va: UInt32, vb: UInt32, macs: Int) throws {
        if tiles.gemmTiled {
            let plan = tiledPlan(m: m, n: n, k: k, splittable: false)
            try seq.dispatch(pipeline(Self.subgroupFree(name), bindings.count, P.self, plan.spec.values()), bindings,
                             push: push, invocations: plan.invocations, macs: macs)
            return
        }
        if tiles.gemmShare {
            let (mb, nc) = (tiles.gemmRows, tiles.gemmLaneColumns)
            precondition(nc % 4 == 0 && nc > 0, "gemmLaneColumns must be a positive multiple of 4")
            precondition(mb % 8 == 0 && mb > 0, "gemmRows must be a positive multiple of 8")
            let groups = ceilDiv(m, mb) * ceilDiv(n, 8 * nc)
            let spec = GemmSpec(share: true, nc: nc, mb: mb, va: va, vb: vb)
            try seq.dispatch(pipeline(name, bindings.count, P.self, spec.values(), workgroup: 8), bindings,
                             push: push, invocations: groups * 8, macs: macs)
            return
        }
        // Smaller blocks (the larger side halved first) while a small C would leave a GPU idle.
        var (mb, nc) = (tiles.linearRowBlock, tiles.linearColBlock)
        while ceilDiv(m, mb) * ceilDiv(n, nc) < tiles.minInvocations && (mb > 1 || nc > 1) {
            if mb >= nc { mb = max(1, mb / 2) } else { nc = max(1, nc / 2) }
        }
        let spec = GemmSpec(nc: nc, mb: mb, va: va, vb: vb)
        try seq.dispatch(pipeline(Self.subgroupFree(name), bindings.count, P.self, spec.values()), bindings,
                         push: push, invocations: ceilDiv(m, mb) * ceilDiv(n, nc), macs: macs)
    }

    /// The shared-memory tiles of a GEMM (gemm.glsl's TILED path) for an m x n C from k steps: workgroups
    /// of TR x TC invocations (TC = 16 from 128 invocations up, else 8), each invocation a block of
    /// up to linearRowBlock x linearColBlock elements. A block side is halved while the tile is at least
    /// twice C's extent on that side (no workgroup of mostly idle rows). Then, for the bounds of a GPU:
    /// a `splittable` sum (weight gradients, whose partial sums go to scratch and chunk_sum) is split into
    /// chunks of k until the dispatch has `minInvocations` invocations in `minWorkgroups` workgroups and none
    /// does more than `maxSerialMACs` multiply-adds; another has its blocks halved until it has `minInvocations`.
    /// The stage depth (steps of k in shared memory) is `tiledDepth`, halved until both tiles fit the
    /// device's shared memory.
    func tiledPlan(m: Int, n: Int, k: Int, splittable: Bool) -> TiledPlan {
        let wg = Int(tiles.workgroupSize)
        let tc = wg >= 128 ? 16 : 8
        precondition(wg % tc == 0, "tiled workgroups must be a multiple of \(tc) invocations")
        let tr = wg / tc
        var (mb, nc) = (Int(tiles.linearRowBlock), Int(tiles.linearColBlock))
        while mb > 1 && tr * mb >= 2 * m { mb /= 2 }
        while nc > 1 && tc * nc >= 2 * n { nc /= 2 }
        func groups() -> Int { ((m + tr * mb - 1) / (tr * mb)) * ((n + tc * nc - 1) / (tc * nc)) }
        var chunks = 1, kChunk = 0
        var bk = Int(tiles.tiledDepth)
        while bk > 1 && (tr * mb + tc * nc) * bk * 4 > Int(context.limits.maxComputeSharedMemorySize) { bk /= 2 }
        if splittable {
            let serial = mb * nc * k
            let wanted = max((tiles.minInvocations + groups() * wg - 1) / (groups() * wg),
                             (tiles.minWorkgroups + groups() - 1) / groups(),
                             serial <= tiles.maxSerialMACs ? 1 : (serial - 1) / tiles.maxSerialMACs + 1)
            if wanted > 1 && k > 1 {
                // Chunks of whole stages where that still gives the chunks wanted.
                kChunk = (k + min(wanted, k) - 1) / min(wanted, k)
                if kChunk >= 2 * bk { kChunk = kChunk / bk * bk }
                chunks = (k + kChunk - 1) / kChunk
            }
        } else {
            while groups() * wg < tiles.minInvocations && (mb > 1 || nc > 1) {
                if mb >= nc { mb = max(1, mb / 2) } else { nc = max(1, nc / 2) }
            }
        }
        let spec = GemmSpec(nc: UInt32(nc), mb: UInt32(mb), tiled: true, tc: UInt32(tc), bk: UInt32(bk), kChunk: UInt32(kChunk))
        return TiledPlan(spec: spec, chunks: chunks, invocations: groups() * chunks * wg)
    }

}
