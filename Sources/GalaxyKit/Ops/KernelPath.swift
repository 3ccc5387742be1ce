import Foundation

/// How the GEMM-shaped shaders (the convolutions, the linear layers, sgemm) are blocked on a device: one case
/// per kernel path, each carrying the parameters that path reads and no other. The shaders take them as
/// specialization constants (`Kernels` maps them). `forDevice` chooses a path from what the device reports.
public enum KernelPath: Sendable, Equatable {
    /// Register blocks per invocation, no subgroup operations and no shared memory (the shaders' `_nosg`
    /// builds): runs on any Vulkan 1.1 device. CPU drivers without lavapipe's 8-lane subgroups get it, and
    /// lavapipe gets it for a few images' inference, where creating the other path's pipelines costs more.
    case portable(PortableTiles = .init())
    /// lavapipe's path: one 8-lane subgroup per workgroup, each operand loaded once and spread to the lanes
    /// with subgroupBroadcast, since on llvmpipe every storage-buffer load is paid per lane.
    case subgroupShare(SubgroupShareTiles = .init())
    /// The GPUs' path: every GEMM-shaped op (convolutions as implicit GEMMs) through gemm.glsl's
    /// shared-memory tiles, with split reductions sized to fill a large GPU.
    case sharedMemory(SharedMemoryTiles = .init())

    /// Invocations per workgroup of the shaders that are not GEMM-shaped (augment, pooling, the loss, SGD, ...),
    /// and of the GEMM-shaped ones on the portable and shared-memory paths.
    public var workgroupSize: UInt32 {
        switch self {
        case .portable(let t): t.workgroupSize
        case .subgroupShare(let t): t.workgroupSize
        case .sharedMemory(let t): t.workgroupSize
        }
    }

    /// What the compile notice calls this path's pipelines.
    public var kernelsDescription: String {
        switch self {
        case .portable: "the portable path's kernels"
        case .subgroupShare: "the subgroup-share (lavapipe) path's kernels"
        case .sharedMemory: "the shared-memory (GPU) path's kernels"
        }
    }

    /// The path for a device, from its capabilities: the shared-memory tiles on a GPU (any device type
    /// but CPU, as Vulkan reports it); on a CPU driver, the subgroup-share path where compute shaders have
    /// 8-lane subgroups with subgroupBroadcast, else the portable path.
    public static func forDevice(_ info: DeviceInfo) -> KernelPath {
        guard info.isCPU else { return .sharedMemory() }
        return info.sharesOperands ? .subgroupShare() : .portable()
    }

    /// The path for a job of `images` image passes (images x epochs trained, or images inferred). On a CPU
    /// driver with the subgroup-share path: the portable path for inference of up to one batch (128: predict
    /// of a few images, where creating the share pipelines costs more than running them), else the share
    /// path; training never gets the portable path (its backward pass is 3x slower there).
    /// `GALAXY_TILES` (quick: the share path where the device has it; narrow: the same path in its narrowest
    /// blocks, the same bits, pipelines lavapipe creates in half the time; portable; gpu: the shared-memory
    /// tiles) overrides that on a CPU driver, for tests and benchmarks. GPUs get `forDevice`.
    public static func forWork(_ info: DeviceInfo, images: Int, training: Bool = false) -> KernelPath {
        guard info.isCPU else { return forDevice(info) }
        let shareable = info.sharesOperands
        switch ProcessInfo.processInfo.environment["GALAXY_TILES"] {
        case "quick": return shareable ? .subgroupShare() : .portable()
        case "portable": return .portable()
        case "narrow": return shareable ? .subgroupShare(.narrow) : .portable()
        case "gpu": return .sharedMemory()
        default: break
        }
        if (images <= 128 && !training) || !shareable { return .portable() }
        return .subgroupShare()
    }

    /// What a short training run gets (the demo, the tests, selftest's network checks).
    public static func forSmallJob(_ info: DeviceInfo) -> KernelPath { forWork(info, images: 1_000, training: true) }
}

/// When the portable and shared-memory paths split a weight-gradient sum into chunks (partial sums added by
/// chunk_sum in a fixed order): until the dispatch launches at least `minInvocations` invocations (and, on
/// the shared-memory path, `minWorkgroups` workgroups) and none sums more than `maxSerialMACs` multiply-adds,
/// as far as the rows allow. A dispatch that is not split has its blocks halved until it has `minInvocations`.
public struct ReductionBounds: Sendable, Equatable {
    public var minInvocations = 16_384
    public var maxSerialMACs = 1 << 17
    /// A GPU of 132 multiprocessors holds about 8 workgroups of 256 invocations on each: 1,024 fill it once.
    public var minWorkgroups = 0

    public init(minInvocations: Int = 16_384, maxSerialMACs: Int = 1 << 17, minWorkgroups: Int = 0) {
        (self.minInvocations, self.maxSerialMACs, self.minWorkgroups) = (minInvocations, maxSerialMACs, minWorkgroups)
    }
}

/// The portable path: each invocation computes a register block of outputs.
public struct PortableTiles: Sendable, Equatable {
    public var workgroupSize: UInt32 = 64
    public var convOutputChannels: UInt32 = 8  // conv2d_forward: output channels per invocation
    public var convColumns: UInt32 = 4         // conv2d_forward / backward_input / backward_weight: columns per invocation
    public var convInputChannels: UInt32 = 4   // conv2d_backward_input: input channels per invocation
    public var convWeightChannels: UInt32 = 4  // conv2d_backward_weight: output channels per invocation
    public var gemmRows: UInt32 = 4            // sgemm / linear_*: rows of C per invocation (at most)
    public var gemmColumns: UInt32 = 4         // sgemm / linear_*: columns of C per invocation (at most)
    public var bounds = ReductionBounds()

    public init() {}
}

/// The subgroup-share path (lavapipe): one 8-lane subgroup per workgroup. The defaults are the "quick" tiles
/// (at most 256 sums per lane in conv2d_forward / backward_input, 144 in conv2d_backward_weight, 128 in the
/// GEMM core), which llvmpipe compiles in 2-7 s per pipeline; wider blocks trained no faster and took minutes
/// to compile (docs/performance.md, "Tried"). Whatever the blocks, every sum is added in the same order, so
/// all share tiles give the same bits (the op tests compare `narrow` with the defaults).
public struct SubgroupShareTiles: Sendable, Equatable {
    /// The lanes of a subgroup the share shaders are written for.
    public static let lanes: UInt32 = 8
    /// The shaders that are not GEMM-shaped.
    public var workgroupSize: UInt32 = 64
    public var gemmRows: UInt32 = 32              // rows of C per workgroup (a multiple of 8)
    public var gemmLaneColumns: UInt32 = 4        // columns of C per lane (a multiple of 4)
    public var convChannels: UInt32 = 16          // conv2d_forward / backward_input: channels per workgroup (a multiple of 8)
    public var convMaxColumns: UInt32 = 16        // ... columns per lane at most (fitted to the row's width)
    // Kernels up to this size: the kernel-row loop unrolled and `convUnrolledChannels` per workgroup (where the
    // layer has that many), since llvmpipe pays per loop-carried accumulator.
    public var convUnrollMaxKernel: UInt32 = 3
    public var convUnrolledChannels: UInt32 = 16
    public var weightLaneChannels: UInt32 = 4     // conv2d_backward_weight: output channels per lane (fewer when too few workgroups)
    public var weightAccumulators: UInt32 = 144   // conv2d_backward_weight: dw sums per lane at most
    public var weightMaxChunk: UInt32 = 8         // conv2d_backward_weight: dy columns per step at most

    public init() {}

    /// The smallest blocks (8 channels or rows per workgroup).
    public static var narrow: SubgroupShareTiles {
        var t = SubgroupShareTiles()
        (t.convChannels, t.convUnrolledChannels, t.convMaxColumns) = (8, 8, 8)
        (t.weightAccumulators, t.gemmRows, t.gemmLaneColumns) = (72, 8, 4)
        return t
    }
}

/// The shared-memory path (GPUs): workgroups of `workgroupSize` invocations (fewer where the device allows
/// fewer: `Kernels` fits them) stage tiles of A and B through shared memory, `depth` steps of k at a time
/// (halved until both tiles fit the device's shared memory); each invocation computes a block of up to
/// `rowBlock` x `columnBlock` elements of C. The defaults were chosen from what AMD's compiler makes of
/// every variant for GCN, CDNA and RDNA (`bench/gpu_tiles.py`; docs/performance.md, "The GPU path through
/// ACO"): of the tiles that keep every GEMM kernel within 64 VGPRs (4 waves per SIMD on GCN and CDNA, 16 on
/// RDNA), 4 x 8 blocks at depth 16 have the lowest estimated GEMM time (0.93x the 4 x 4 blocks') and load
/// 30% fewer values from global memory per multiply-add.
public struct SharedMemoryTiles: Sendable, Equatable {
    public var workgroupSize: UInt32 = 256
    public var rowBlock: UInt32 = 4
    public var columnBlock: UInt32 = 8
    public var depth: UInt32 = 16
    public var bounds = ReductionBounds(minWorkgroups: 1_024)

    public init() {}
}
