import ArgumentParser
import Foundation
import GalaxyKit

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: the training step and inference on a Vulkan device, or image preparation.",
        subcommands: [BenchTrainCommand.self, BenchPrepareCommand.self],
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
    @Option(help: "With --plan: the kernel configuration, lavapipe or gpu (default: the device's).") var config: PlanConfig?

    enum PlanConfig: String, ExpressibleByArgument { case lavapipe, gpu }

    func run() throws {
        try reportingErrors {
            let context = try VulkanContext(selector: device)
            if plan { return try printPlan(context) }
            if config != nil { throw ValidationError("--config goes with --plan") }
            let r = try Benchmark.run(context: context, batch: batch, runs: runs) { msg in
                if !json { FileHandle.standardError.write(Data("\(msg)\n".utf8)) }
            }
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try enc.encode(r), as: UTF8.self))
                return
            }
            print("device: \(r.device), batch \(r.batch)")
            func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
                let fill = String(repeating: " ", count: max(0, n - s.count))
                return left ? fill + s : s + fill
            }
            print(pad("kernel", 26) + pad("ms/step", 11, left: true) + pad("GFLOP/s", 10, left: true) + pad("share", 8, left: true))
            for k in r.kernels.sorted(by: { $0.milliseconds > $1.milliseconds }) {
                print(pad(k.name, 26) + pad(String(format: "%.2f", k.milliseconds), 11, left: true)
                      + pad(k.gflops.map { String(format: "%.2f", $0) } ?? "-", 10, left: true)
                      + pad(String(format: "%.1f%%", 100 * k.share), 8, left: true))
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
    func printPlan(_ context: VulkanContext) throws {
        VulkanContext.notice = nil  // pipelines are created, never dispatched: nothing is JIT-compiled
        let chosen = config ?? (context.info.type == "CPU" ? .lavapipe : .gpu)
        var tiles = TileConfig.gpu
        if chosen == .lavapipe {
            tiles = TileConfig()
            (tiles.convShare, tiles.gemmShare) = (true, true)
            guard context.info.subgroupSize == 8 else {
                throw ValidationError("the lavapipe configuration needs 8-lane subgroups; this device has \(context.info.subgroupSize)")
            }
        }
        let p = try Benchmark.launchPlan(context: context, tiles: tiles, config: chosen.rawValue, batch: batch)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(p), as: UTF8.self))
            return
        }
        print("launch plan: \(chosen.rawValue) configuration, batch \(batch), split-reduction scratch \(p.scratchBytes / 1024) KiB")
        for (title, pass) in [("training step", p.train), ("inference", p.inference)] {
            print("\n\(title): \(pass.dispatches.count) dispatches")
            print("kernel".padding(toLength: 26, withPad: " ", startingAt: 0) + ["workgroups", "invocations", "MACs/inv", "MB read"].map { $0.leftPadded(13) }.joined())
            for d in pass.dispatches {
                print(d.name.padding(toLength: 26, withPad: " ", startingAt: 0)
                      + ["\(d.workgroups)", "\(d.invocations)", "\(d.macsPerInvocation)", String(format: "%.2f", Double(d.bytesRead) / 1_048_576)].map { $0.leftPadded(13) }.joined())
            }
        }
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
}
