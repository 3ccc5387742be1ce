import ArgumentParser
import Foundation
import GalaxyKit

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: the training step and inference on a Vulkan device, or image preparation.",
        subcommands: [BenchTrainCommand.self, BenchStreamCommand.self, BenchPrepareCommand.self],
        defaultSubcommand: BenchTrainCommand.self)
}

struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Images/s of a training step and of inference, per-kernel time and GFLOP/s.")
    @Option(help: "Vulkan device index or name substring (see `galaxy devices`).") var device: String?
    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Timed runs after one warm-up; the median is reported.") var runs = 5
    @Flag(help: "Print the figures as one JSON object.") var json = false
    @Flag(help: "Print the launch plan instead (workgroups, invocations, multiply-adds per invocation, bytes read of every dispatch); runs nothing.") var plan = false
    @Flag(help: ArgumentHelp("Print what the device's own compiler makes of every distinct pipeline of a training step and inference: registers, spills, scratch, shared memory, occupancy, instructions (VK_KHR_pipeline_executable_properties); runs nothing.",
                             discussion: "Works without the GPU on RADV's null device, AMD's compiler for any chip: RADV_FORCE_FAMILY=navi21 VK_DRIVER_FILES=/usr/share/vulkan/icd.d/radeon_icd.x86_64.json galaxy bench --shader-stats"))
    var shaderStats = false
    @Option(help: "With --plan or --shader-stats: the kernel path, lavapipe (subgroup share), gpu (shared-memory tiles) or portable (default: the device's).") var config: PlanConfig?
    @Option(help: "With --plan or --shader-stats on the gpu path: its shared-memory tiles, e.g. workgroup=256,rows=4,columns=4,depth=16 (powers of two; unnamed ones keep their defaults).")
    var tiles: String?

    /// The kernel paths by the names --config takes.
    enum PlanConfig: String, ExpressibleByArgument {
        case lavapipe, gpu, portable

        init(_ path: KernelPath) {
            switch path {
            case .subgroupShare: self = .lavapipe
            case .sharedMemory: self = .gpu
            case .portable: self = .portable
            }
        }

        func path(tiles: SharedMemoryTiles? = nil) -> KernelPath {
            switch self {
            case .lavapipe: .subgroupShare()
            case .gpu: .sharedMemory(tiles ?? SharedMemoryTiles())
            case .portable: .portable()
            }
        }
    }

    func run() throws {
        try reportingErrors {
            if plan && shaderStats { throw ValidationError("--plan and --shader-stats are two reports: ask for one") }
            if shaderStats { return try printShaderStatistics() }
            if !plan, let world = try MPIWorld.join(), world.size > 1 { return try runDistributed(world) }
            let context = try VulkanContext(selector: device)
            if plan { return try printPlan(context) }
            if config != nil || tiles != nil { throw ValidationError("--config and --tiles go with --plan or --shader-stats") }
            let r = try Benchmark.run(context: context, batch: batch, runs: runs) { msg in
                if !json { FileHandle.standardError.write(Data("\(msg)\n".utf8)) }
            }
            if json { return try printJSON(r) }
            print("device: \(r.device), batch \(r.batch)")
            print("kernel".rightPadded(26) + "ms/step".leftPadded(11) + "GFLOP/s".leftPadded(10) + "share".leftPadded(8))
            for k in r.kernels.sorted(by: { $0.milliseconds > $1.milliseconds }) {
                print(k.name.rightPadded(26) + String(format: "%.2f", k.milliseconds).leftPadded(11)
                      + (k.gflops.map { String(format: "%.2f", $0) } ?? "-").leftPadded(10)
                      + String(format: "%.1f%%", 100 * k.share).leftPadded(8))
            }
            print(String(format: "training step: %.1f ms, %.1f images/s, %.2f GFLOP/s", r.trainStepMilliseconds, r.trainImagesPerSecond, r.trainGFLOPs))
            print(String(format: "inference:     %.1f ms per batch, %.1f images/s", r.inferenceBatchMilliseconds, r.inferenceImagesPerSecond))
            if let c = r.ceilingGFLOPs {
                print(String(format: "SGEMM ceiling (sgemm shader, 1024^3): %.2f GFLOP/s; the training step: %.2f GFLOP/s", c, r.trainGFLOPs))
            }
            print(String(format: "pipelines: %.1f s to create and compile before the first step (cold start minus a steady step)", r.pipelineCompileSeconds))
            print(String(format: "device memory: %.0f MiB held, %.0f MiB minimum (weights, grads, momentum, one batch of activations)",
                         Double(r.deviceMemoryBytes) / 1048576, Double(r.minimumMemoryBytes) / 1048576))
        }
    }
}

extension BenchTrainCommand {
    /// Under mpirun: one rank against all ranks at the same global batch; rank 0 prints.
    func runDistributed(_ world: MPIWorld) throws {
        let context = try VulkanContext(selector: device, slot: world.localRank)
        let r = try Benchmark.distributed(context: context, world: world, batch: batch, runs: runs) { msg in
            if !json { FileHandle.standardError.write(Data("\(msg)\n".utf8)) }
        }
        guard world.rank == 0 else { return }
        if json { return try printJSON(r) }
        print("device: \(context.info.name) (rank 0), \(r.ranks) ranks, global batch \(r.batch)")
        print(String(format: "one rank:  %.1f images/s", r.oneRankImagesPerSecond))
        print(String(format: "%d ranks:   %.1f images/s (scaling efficiency %.2f = images/s of %d ranks / (%d x one rank))",
                     r.ranks, r.ranksImagesPerSecond, r.scalingEfficiency, r.ranks, r.ranks))
        print(String(format: "gradient exchange: %.2f ms per step (%.1f MB read back, summed over the ranks with MPI, written back)",
                     r.exchangeMilliseconds, Double(r.gradientBytes) / 1e6))
    }

    /// The configuration --config names (default: the device's) and its path with --tiles.
    func chosenPath(_ context: VulkanContext) throws -> (PlanConfig, KernelPath) {
        let chosen = config ?? PlanConfig(KernelPath.forDevice(context.info))
        if chosen == .lavapipe && !context.info.sharesOperands {
            throw ValidationError("the lavapipe configuration needs 8-lane subgroups with subgroupBroadcast; this device has \(context.info.subgroupSize)-lane subgroups"
                                  + (context.info.subgroupBallot ? "" : " without subgroupBroadcast"))
        }
        if tiles != nil && chosen != .gpu { throw ValidationError("--tiles sets the gpu configuration's tiles; this is the \(chosen.rawValue) configuration") }
        return (chosen, chosen.path(tiles: try tiles.map(SharedMemoryTiles.parse)))
    }

    func printPlan(_ context: VulkanContext) throws {
        VulkanContext.notice = nil  // pipelines are created, never dispatched: nothing is JIT-compiled
        let (chosen, path) = try chosenPath(context)
        let p = try Benchmark.launchPlan(context: context, path: path, config: chosen.rawValue, batch: batch)
        if json { return try printJSON(p) }
        print("launch plan: \(chosen.rawValue) configuration, batch \(batch), split-reduction scratch \(p.scratchBytes / 1024) KiB")
        for (title, pass) in [("training step", p.train), ("inference", p.inference), ("evaluation (a test batch)", p.evaluation),
                              ("Dirichlet training step (vote counts)", p.dirichletTrain), ("Dirichlet evaluation (a test batch)", p.dirichletEvaluation),
                              ("training step, decision-tree output layer", p.constrainedTrain)] {
            print("\n\(title): \(pass.dispatches.count) dispatches")
            print("kernel".rightPadded(26) + ["workgroups", "invocations", "MACs/inv", "MB read"].map { $0.leftPadded(13) }.joined())
            for d in pass.dispatches {
                print(d.name.rightPadded(26)
                      + ["\(d.workgroups)", "\(d.invocations)", "\(d.macsPerInvocation)", String(format: "%.2f", Double(d.bytesRead) / 1_048_576)].map { $0.leftPadded(13) }.joined())
            }
        }
    }
}

extension BenchTrainCommand {
    /// `--shader-stats`: the device opened for compiling only (a device without memory allows nothing else).
    func printShaderStatistics() throws {
        VulkanContext.notice = nil  // nothing is dispatched
        let context = try VulkanContext(selector: device, compileOnly: true)
        if !context.info.hasMemory {
            FileHandle.standardError.write(Data(("note: \(context.info.name) has no memory (a compile-only device such as RADV's null device): "
                                                 + "opened to compile pipelines only\n").utf8))
        }
        let (chosen, path) = try chosenPath(context)
        let r = try Benchmark.shaderStatistics(context: context, path: path, config: chosen.rawValue, batch: batch)
        if json { return try printJSON(r) }
        print("shader statistics: \(r.device), \(chosen.rawValue) configuration" + (r.tiles.map { " (\($0))" } ?? "")
              + ", batch \(batch): \(r.pipelines.count) pipelines; shared memory limit \(r.maxSharedMemoryBytes) bytes")
        let columns = ["wave", "VGPRs", "SGPRs", "spills", "scratch", "LDS", "waves/SIMD", "instrs", "latency", "inv.thru"]
        print("pipeline".rightPadded(34) + columns.map { $0.leftPadded(11) }.joined())
        func int(_ v: Int?) -> String { v.map(String.init) ?? "-" }
        for p in r.pipelines {
            let spills = p.spilledVGPRs == nil && p.spilledSGPRs == nil ? "-" : "\((p.spilledVGPRs ?? 0) + (p.spilledSGPRs ?? 0))"
            let cells = ["\(p.subgroupSize)", int(p.vgprs), int(p.sgprs), spills, int(p.scratchBytes), int(p.ldsBytes),
                         p.wavesPerSIMD.map { String(format: "%g", $0) } ?? "-", int(p.instructions),
                         p.raw["Latency"].map { String(format: "%.0f", $0) } ?? "-", p.raw["Inverse Throughput"].map { String(format: "%.0f", $0) } ?? "-"]
            print(p.name.rightPadded(34) + cells.map { $0.leftPadded(11) }.joined())
        }
        let shown = Set(ShaderStatistics.namedStatistics + ["latency", "inverse throughput"])
        let others = Set(r.pipelines.flatMap(\.raw.keys)).filter { !shown.contains($0.lowercased()) }.sorted()
        if !others.isEmpty { print("\nthe driver's other statistics (--json has them all, per pipeline): " + others.joined(separator: ", ")) }
    }
}

struct BenchStreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Training images/s with a synthetic data set resident against streamed through a device memory budget several times smaller.")
    @Option(help: "Vulkan device index or name substring (see `galaxy devices`).") var device: String?
    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Synthetic images in the data set.") var images = 1024
    @Option(help: "Device memory for the streamed run's images, e.g. 8M (default: a quarter of the images' bytes).") var deviceMemory: String?
    @Option(help: "Timed passes of each kind; the median is reported.") var runs = 1
    @Flag(help: "Print the figures as one JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            guard batch >= 1, images >= 2 * batch, runs >= 1 else { throw ValidationError("need --batch >= 1, --images >= 2 x batch and --runs >= 1") }
            let budget = try deviceMemory.map { try ByteSize.parse($0, what: "--device-memory") }
            let context = try VulkanContext(selector: device)
            let r = try Benchmark.stream(context: context, batch: batch, images: images, budget: budget, runs: runs) { msg in
                if !json { FileHandle.standardError.write(Data("\(msg)\n".utf8)) }
            }
            if json { return try printJSON(r) }
            print(String(format: "device: %@, batch %d, %d synthetic images (%.1f MiB); streamed through %.1f MiB: 2 slots of %d images",
                         r.device, r.batch, r.images, Double(r.dataBytes) / 1048576, Double(r.budgetBytes) / 1048576, r.slotImages))
            print(String(format: "resident: %.1f images/s", r.residentImagesPerSecond))
            print(String(format: "streamed: %.1f images/s (%.3f x resident)", r.streamedImagesPerSecond, r.ratio))
            print("weights after a pass: " + (r.bitIdentical ? "bit-identical" : "DIFFERENT"))
            if !r.bitIdentical { throw ExitCode.failure }
        }
    }
}

/// One value as pretty-printed JSON with sorted keys on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
    func rightPadded(_ n: Int) -> String { self + String(repeating: " ", count: max(0, n - count)) }
}
