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

    func run() throws {
        try reportingErrors {
            let context = try VulkanContext(selector: device)
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
            print(String(format: "device memory: %.0f MiB held, %.0f MiB minimum (weights, grads, momentum, one batch of activations)",
                         Double(r.deviceMemoryBytes) / 1048576, Double(r.minimumMemoryBytes) / 1048576))
        }
    }
}
