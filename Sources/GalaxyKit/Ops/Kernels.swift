import Foundation

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
/// holds what they share: the kernel path (KernelPath.swift), pipelines, the split-reduction scratch and
/// the GEMM core's dispatch.
public final class Kernels {
    public let context: VulkanContext
    public let path: KernelPath

    public init(_ context: VulkanContext, path: KernelPath? = nil) {
        self.context = context
        var p = path ?? KernelPath.forDevice(context.info)
        // The shared-memory path's workgroups: the largest power of two the device allows (at least 128 by the spec).
        if case .sharedMemory(var t) = p {
            let most = min(context.limits.maxComputeWorkGroupInvocations, context.limits.maxComputeWorkGroupSize.0)
            while t.workgroupSize > most && t.workgroupSize > 64 { t.workgroupSize /= 2 }
            p = .sharedMemory(t)
        }
        self.path = p
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

    /// Rows per chunk for a reduction over `rows` rows in `blocks` independent invocations of `macs`
    /// multiply-adds in all (the portable path): 0 (no split) when `bounds` already hold.
    func reductionRows(rows: Int, blocks: Int, macs: Int, bounds: ReductionBounds) -> Int {
        let perBlock = (macs + blocks - 1) / blocks
        let needed = max((bounds.minInvocations + blocks - 1) / blocks, perBlock <= bounds.maxSerialMACs ? 1 : (perBlock - 1) / bounds.maxSerialMACs + 1)
        guard needed > 1, rows > 1 else { return 0 }
        return (rows + min(needed, rows) - 1) / min(needed, rows)
    }

    func pipeline<P>(_ name: String, _ bindings: Int, _: P.Type, _ spec: [UInt32] = [], workgroup: UInt32? = nil) throws -> ComputePipeline {
        try context.pipeline(name, bindings: bindings, pushSize: MemoryLayout<P>.size, specialization: [workgroup ?? path.workgroupSize] + spec,
                             kernels: path.kernelsDescription)
    }

    /// The build of a GEMM-shaped shader without subgroup operations (CompileShaders' `_nosg`), which the
    /// portable and shared-memory paths use: it declares no subgroup capability, so it runs on any Vulkan 1.1 device.
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

    /// Dispatches a gemm.glsl shader producing an m x n C from k steps on the kernels' path. `va` / `vb`: 4
    /// when A / B may be read as vec4s along their contiguous axis (see gemm.glsl).
    func gemm<P: BitwiseCopyable>(_ seq: CommandSequence, _ name: String, _ bindings: [BufferRange], push: P, m: Int, n: Int, k: Int,
                         va: UInt32, vb: UInt32, macs: Int) throws {
        switch path {
        case .sharedMemory(let t):
            let plan = tiledPlan(t, m: m, n: n, k: k, splittable: false)
            try seq.dispatch(pipeline(Self.subgroupFree(name), bindings.count, P.self, plan.spec.values()), bindings,
                             push: push, invocations: plan.invocations, macs: macs)
        case .subgroupShare(let t):
            let (mb, nc) = (t.gemmRows, t.gemmLaneColumns)
            precondition(nc % 4 == 0 && nc > 0, "gemmLaneColumns must be a positive multiple of 4")
            precondition(mb % 8 == 0 && mb > 0, "gemmRows must be a positive multiple of 8")
            let groups = ceilDiv(m, mb) * ceilDiv(n, 8 * nc)
            let spec = GemmSpec(share: true, nc: nc, mb: mb, va: va, vb: vb)
            try seq.dispatch(pipeline(name, bindings.count, P.self, spec.values(), workgroup: SubgroupShareTiles.lanes), bindings,
                             push: push, invocations: groups * 8, macs: macs)
        case .portable(let t):
            // Smaller blocks (the larger side halved first) while a small C would leave a GPU idle.
            var (mb, nc) = (t.gemmRows, t.gemmColumns)
            while ceilDiv(m, mb) * ceilDiv(n, nc) < t.bounds.minInvocations && (mb > 1 || nc > 1) {
                if mb >= nc { mb = max(1, mb / 2) } else { nc = max(1, nc / 2) }
            }
            let spec = GemmSpec(nc: nc, mb: mb, va: va, vb: vb)
            try seq.dispatch(pipeline(Self.subgroupFree(name), bindings.count, P.self, spec.values()), bindings,
                             push: push, invocations: ceilDiv(m, mb) * ceilDiv(n, nc), macs: macs)
        }
    }

    /// `tiledPlan` with the kernels' own shared-memory tiles (the path must be `.sharedMemory`).
    func tiledPlan(m: Int, n: Int, k: Int, splittable: Bool) -> TiledPlan {
        guard case .sharedMemory(let t) = path else { preconditionFailure("tiledPlan needs the shared-memory path, not \(path)") }
        return tiledPlan(t, m: m, n: n, k: k, splittable: splittable)
    }

    /// The shared-memory tiles of a GEMM (gemm.glsl's TILED path) for an m x n C from k steps: workgroups
    /// of TR x TC invocations (TC = 16 from 128 invocations up, else 8), each invocation a block of
    /// up to rowBlock x columnBlock elements. A block side is halved while the tile is at least
    /// twice C's extent on that side (no workgroup of mostly idle rows). Then, for the bounds of a GPU:
    /// a `splittable` sum (weight gradients, whose partial sums go to scratch and chunk_sum) is split into
    /// chunks of k until the dispatch has `minInvocations` invocations in `minWorkgroups` workgroups and none
    /// does more than `maxSerialMACs` multiply-adds; another has its blocks halved until it has `minInvocations`.
    /// The stage depth (steps of k in shared memory) is `depth`, halved until both tiles fit the
    /// device's shared memory.
    func tiledPlan(_ t: SharedMemoryTiles, m: Int, n: Int, k: Int, splittable: Bool) -> TiledPlan {
        let wg = Int(t.workgroupSize), bounds = t.bounds
        let tc = wg >= 128 ? 16 : 8
        precondition(wg % tc == 0, "tiled workgroups must be a multiple of \(tc) invocations")
        let tr = wg / tc
        var (mb, nc) = (Int(t.rowBlock), Int(t.columnBlock))
        while mb > 1 && tr * mb >= 2 * m { mb /= 2 }
        while nc > 1 && tc * nc >= 2 * n { nc /= 2 }
        func groups() -> Int { ((m + tr * mb - 1) / (tr * mb)) * ((n + tc * nc - 1) / (tc * nc)) }
        var chunks = 1, kChunk = 0
        var bk = Int(t.depth)
        while bk > 1 && (tr * mb + tc * nc) * bk * 4 > Int(context.limits.maxComputeSharedMemorySize) { bk /= 2 }
        if splittable {
            let serial = mb * nc * k
            let wanted = max((bounds.minInvocations + groups() * wg - 1) / (groups() * wg),
                             (bounds.minWorkgroups + groups() - 1) / groups(),
                             serial <= bounds.maxSerialMACs ? 1 : (serial - 1) / bounds.maxSerialMACs + 1)
            if wanted > 1 && k > 1 {
                // Chunks of whole stages where that still gives the chunks wanted.
                kChunk = (k + min(wanted, k) - 1) / min(wanted, k)
                if kChunk >= 2 * bk { kChunk = kChunk / bk * bk }
                chunks = (k + kChunk - 1) / kChunk
            }
        } else {
            while groups() * wg < bounds.minInvocations && (mb > 1 || nc > 1) {
                if mb >= nc { mb = max(1, mb / 2) } else { nc = max(1, nc / 2) }
            }
        }
        let spec = GemmSpec(nc: UInt32(nc), mb: UInt32(mb), tiled: true, tc: UInt32(tc), bk: UInt32(bk), kChunk: UInt32(kChunk))
        return TiledPlan(spec: spec, chunks: chunks, invocations: groups() * chunks * wg)
    }
}
