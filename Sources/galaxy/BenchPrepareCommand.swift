import ArgumentParser
import Foundation
import GalaxyKit

struct BenchPrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Images per second of decode + center crop + resize, on one core and on all cores, at full and half size (catalog --decode half)."
    )

    @Option(help: "Folder of JPEGs. Default: ../shared/data/kaggle-sample/images_training_rev1.")
    var images: String = "../shared/data/kaggle-sample/images_training_rev1"

    @Option(help: "How many times the folder's images are processed per measurement.")
    var repeats: Int = 8

    func run() throws {
        try reportingErrors {
            let files = try listGalaxyImages(in: URL(fileURLWithPath: images)).map(\.url)
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
            let urls = Array(repeating: files, count: repeats).flatMap { $0 }
            let cores = ProcessInfo.processInfo.activeProcessorCount
            // Warm the page cache and the code paths once.
            let warm = preprocessImageFiles(files, threads: cores)
            if let failure = warm.failures.first { throw ValidationError("cannot preprocess \(failure)") }
            print("\(files.count) images x \(repeats) repeats from \(images)")
            var fullPerCPU = 0.0
            for scale in DecodeScale.allCases {
                var single = 0.0
                for threads in Set([1, cores]).sorted() {
                    let start = Date()
                    let cpuStart = processCPUSeconds()
                    _ = preprocessImageFiles(urls, threads: threads, decode: scale)
                    let rate = Double(urls.count) / Date().timeIntervalSince(start)
                    // Images per CPU-second: what one core does when it is not shared with other work.
                    let perCPU = Double(urls.count) / (processCPUSeconds() - cpuStart)
                    if threads == 1 { single = rate }
                    if threads == 1 && scale == .full { fullPerCPU = perCPU }
                    print(String(format: "%@ size, %2d thread(s): %8.0f images/s wall (%6.0f per thread), %6.0f images per CPU-second",
                                 scale.rawValue, threads, rate, rate / Double(threads), perCPU)
                          + (threads > 1 && single > 0 ? String(format: ", %.2fx the single thread", rate / single) : "")
                          + (threads == 1 && scale != .full ? String(format: ", %.2fx full size's", perCPU / fullPerCPU) : ""))
                }
            }
        }
    }
}

/// CPU time (user + system) of the whole process so far.
private func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
