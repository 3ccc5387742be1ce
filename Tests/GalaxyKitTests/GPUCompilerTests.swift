import Foundation
import XCTest
@testable import GalaxyKit

/// The GPU path (`KernelPath.sharedMemory`) compiled by a real GPU compiler: AMD's ACO, through RADV's null
/// device (RADV_FORCE_FAMILY names a chip that is not there; mesa-vulkan-drivers has it). Every pipeline of a
/// training step (MSE and Dirichlet), of inference and of evaluation must compile for each family, in both wave
/// sizes where RDNA has them, with no spilled registers, no scratch, shared memory within the device's limit,
/// and the GEMM-carrying kernels at or above an occupancy floor (docs/performance.md, "The GPU path through
/// ACO", says why these).
final class GPUCompilerTests: XCTestCase {
    static let radv = "/usr/share/vulkan/icd.d/radeon_icd.x86_64.json"

    struct Family {
        var chip: String
        var generation: String
        var wave32 = false
        /// Waves per SIMD (ACO's "Subgroups per SIMD") that every GEMM-carrying pipeline keeps at least.
        var occupancyFloor: Double
    }

    /// GCN 4, GCN 5, CDNA 1 and 2, RDNA 1, 2 and 3 (Mesa 22.3's family names; eight chips), RDNA in wave64 and wave32.
    static let families: [Family] = [
        Family(chip: "polaris10", generation: "GCN 4", occupancyFloor: 4),
        Family(chip: "vega10", generation: "GCN 5", occupancyFloor: 4),
        Family(chip: "arcturus", generation: "CDNA 1", occupancyFloor: 4),
        Family(chip: "aldebaran", generation: "CDNA 2", occupancyFloor: 4),
        Family(chip: "navi10", generation: "RDNA 1", occupancyFloor: 16),
        Family(chip: "navi10", generation: "RDNA 1", wave32: true, occupancyFloor: 16),
        Family(chip: "navi21", generation: "RDNA 2", occupancyFloor: 16),
        Family(chip: "navi21", generation: "RDNA 2", wave32: true, occupancyFloor: 16),
        Family(chip: "gfx1100", generation: "RDNA 3", occupancyFloor: 16),
        Family(chip: "gfx1100", generation: "RDNA 3", wave32: true, occupancyFloor: 16),
        Family(chip: "gfx1102", generation: "RDNA 3", occupancyFloor: 16),
        Family(chip: "gfx1102", generation: "RDNA 3", wave32: true, occupancyFloor: 16),
    ]

    func environment(_ f: Family) -> [String: String] {
        var env = ["RADV_FORCE_FAMILY": f.chip, "VK_DRIVER_FILES": Self.radv]
        env["RADV_PERFTEST"] = f.wave32 ? "cswave32" : ""
        return env
    }

    struct Report: Decodable {
        struct Pipeline: Decodable {
            var name: String
            var kernel: String
            var subgroup_size: Int
            var passes: [String]
            var vgprs: Int?
            var spilled_vgprs: Int?
            var spilled_sgprs: Int?
            var scratch_bytes: Int?
            var lds_bytes: Int?
            var waves_per_simd: Double?
            var raw: [String: Double]
        }
        var device: String
        var config: String
        var max_shared_memory_bytes: Int
        var pipelines: [Pipeline]
    }

    /// The kernels a training step (MSE, Dirichlet and the decision-tree layer), inference and evaluation dispatch on the gpu path, as
    /// recorded on the test device.
    func gpuPathKernels() throws -> Set<String> {
        let context = try TestDevice.context()
        let plan = try Benchmark.launchPlan(context: context, path: .sharedMemory(), config: "gpu")
        return Set(plan.passes.flatMap { $0.pass.dispatches.map(\.name) })
    }

    func testEveryFamilyCompilesTheGPUPathWithoutSpillsAboveTheOccupancyFloor() throws {
        guard FileManager.default.fileExists(atPath: Self.radv) else {
            return XCTFail("\(Self.radv) is missing: mesa-vulkan-drivers (make deps) installs RADV, whose compiler this test runs")
        }
        let expected = try gpuPathKernels()
        let dirichlet: Set = ["dirichlet_concentration", "dirichlet_forward", "dirichlet_backward"]
        let tree: Set = ["constrained_output_forward", "constrained_output_backward"]
        XCTAssertTrue(expected.isSuperset(of: dirichlet.union(tree).union(["conv2d_backward_weight_nosg", "linear_forward_nosg", "eval_sums", "adam"])), "\(expected)")
        // One compilation per core at a time (ACO is CPU-bound; with a cold Mesa cache each takes a few seconds).
        let runs = Self.families.map { _ in Locked<Result<ProcessOutput, Error>?>(nil) }
        DispatchQueue.concurrentPerform(iterations: Self.families.count) { i in
            runs[i].value = Result { try runProcess(CLITests.executable, ["bench", "--shader-stats", "--config", "gpu", "--json"], env: environment(Self.families[i])) }
        }
        for (f, run) in zip(Self.families, runs) {
            let tag = "\(f.chip) (\(f.generation), wave\(f.wave32 ? 32 : 64))"
            let r = try run.value!.get()
            XCTAssertEqual(r.status, 0, "\(tag): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("[vulkan validation]"), "\(tag): validation messages:\n\(r.stderr)")
            XCTAssertTrue(r.stderr.contains("opened to compile pipelines only"), "\(tag): the compile-only note is missing:\n\(r.stderr)")
            guard r.status == 0 else { continue }
            let report = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
            XCTAssertTrue(report.device.localizedCaseInsensitiveContains(f.chip), "\(tag): compiled for \(report.device)")
            XCTAssertEqual(report.config, "gpu")
            XCTAssertEqual(Set(report.pipelines.map(\.kernel)), expected, "\(tag): not every kernel of the plan was compiled")
            XCTAssertEqual(Set(report.pipelines.map(\.name)).count, report.pipelines.count, "\(tag): pipeline names repeat")
            // The Dirichlet head's pipelines are among those compiled, in the passes of a counts run.
            // So are the decision-tree layer's (the Kaggle tree as specialization constants), in its training step only.
            for p in report.pipelines where dirichlet.contains(p.kernel) || tree.contains(p.kernel) {
                let pass = dirichlet.contains(p.kernel) ? "dirichlet " : "constrained "
                XCTAssertTrue(p.passes.allSatisfy { $0.hasPrefix(pass) }, "\(tag) \(p.name): passes \(p.passes)")
                print("\(tag) \(p.name): \(p.vgprs ?? -1) VGPRs, \(p.spilled_vgprs ?? -1)/\(p.spilled_sgprs ?? -1) spilled, "
                      + "scratch \(p.scratch_bytes ?? -1), \(p.waves_per_simd ?? -1) waves per SIMD")
            }
            for p in report.pipelines {
                let what = "\(tag) \(p.name)"
                XCTAssertEqual(p.subgroup_size, f.wave32 ? 32 : 64, "\(what): wave size")
                XCTAssertNotNil(p.vgprs, "\(what): no VGPR count in \(p.raw.keys.sorted())")
                XCTAssertEqual(p.spilled_vgprs, 0, "\(what): spilled VGPRs")
                XCTAssertEqual(p.spilled_sgprs, 0, "\(what): spilled SGPRs")
                XCTAssertEqual(p.scratch_bytes, 0, "\(what): scratch")
                XCTAssertLessThanOrEqual(p.lds_bytes ?? .max, report.max_shared_memory_bytes, "\(what): shared memory over the limit")
                let gemm = p.kernel.hasPrefix("conv2d_") || p.kernel.hasPrefix("linear_")
                if gemm {
                    XCTAssertGreaterThan(p.lds_bytes ?? 0, 0, "\(what): a tiled GEMM stages its tiles in shared memory")
                    XCTAssertGreaterThanOrEqual(p.waves_per_simd ?? 0, f.occupancyFloor, "\(what): occupancy \(p.waves_per_simd ?? 0) waves per SIMD "
                                                + "(\(p.vgprs ?? 0) VGPRs), under the floor \(f.occupancyFloor)")
                }
            }
        }
    }

    /// On a device that compiles but has no memory, every command but --shader-stats is refused with an
    /// error that says what the device is and what it can do.
    func testACompileOnlyDeviceRefusesToRun() throws {
        guard FileManager.default.fileExists(atPath: Self.radv) else { return XCTFail("\(Self.radv) is missing (mesa-vulkan-drivers)") }
        let env = environment(Self.families.first { $0.chip == "navi21" }!)
        for args in [["bench", "--runs", "1"], ["bench", "--plan"], ["selftest"]] {
            let r = try runProcess(CLITests.executable, args, env: env)
            XCTAssertEqual(r.status, 1, "\(args): \(r.output)")
            XCTAssertTrue(r.stderr.contains("reports no memory types") && r.stderr.contains("--shader-stats"), "\(args): \(r.stderr)")
        }
        let devices = try runProcess(CLITests.executable, ["devices"], env: env)
        XCTAssertEqual(devices.status, 0, devices.output)
        XCTAssertTrue(devices.stdout.contains("compile only"), devices.stdout)
    }

    /// lavapipe has no VK_KHR_pipeline_executable_properties: --shader-stats says so and how to get a compiler that has.
    func testADriverWithoutStatisticsIsAClearError() throws {
        let r = try runProcess(CLITests.executable, ["bench", "--shader-stats"], env: [:])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.stderr.contains("VK_KHR_pipeline_executable_properties") && r.stderr.contains("RADV_FORCE_FAMILY"), r.stderr)
        let bad = try runProcess(CLITests.executable, ["bench", "--shader-stats", "--config", "gpu", "--tiles", "rows=3"], env: environment(Self.families[0]))
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.stderr.contains("rows=3"), bad.stderr)
    }

    /// A compile-only context records the same plan as a context that runs (the same dispatches, sizes and
    /// barriers), and refuses to submit or read back.
    func testACompileOnlyContextRecordsTheSamePlanAndRunsNothing() throws {
        let running = try TestDevice.context()
        let compiling = try VulkanContext(compileOnly: true)
        XCTAssertTrue(compiling.compileOnly)
        for path in [KernelPath.sharedMemory(), .portable()] {
            let a = try Benchmark.launchPlan(context: running, path: path, config: "x")
            let b = try Benchmark.launchPlan(context: compiling, path: path, config: "x")
            for (x, y) in zip(a.passes, b.passes) { XCTAssertEqual(x.pass.dispatches, y.pass.dispatches, "\(path) \(x.name)") }
            XCTAssertEqual(a.scratchBytes, b.scratchBytes)
        }
        let buffer = try DeviceBuffer(compiling, floats: 16, label: "probe")
        try buffer.upload([Float](repeating: 1, count: 16))
        XCTAssertThrowsError(try buffer.download(count: 16)) { XCTAssertTrue("\($0)".contains("open for compiling only"), "\($0)") }
        let seq = try CommandSequence(compiling)
        XCTAssertThrowsError(try seq.submit()) { XCTAssertTrue("\($0)".contains("cannot submit commands"), "\($0)") }
        XCTAssertThrowsError(try Benchmark.shaderStatistics(context: running, path: .sharedMemory(), config: "gpu")) {
            XCTAssertTrue("\($0)".contains("VK_KHR_pipeline_executable_properties"), "\($0)")
        }
    }

    /// The named keys come from each driver's own statistic names (ACO's, NVIDIA's, Intel's).
    func testStatisticsAreNamedFromEachDriversVocabulary() {
        func row(_ stats: [(String, Double)]) -> ShaderStatistics.Pipeline {
            var p = ShaderStatistics.Pipeline(name: "k", kernel: "k", specialization: [64], workgroupSize: 64, subgroupSize: 32, dispatches: 1,
                                              passes: ["train"], raw: [:])
            ShaderStatistics.name(&p, from: stats.map { PipelineExecutable.Statistic(name: $0.0, description: "", value: $0.1) })
            return p
        }
        let aco = row([("VGPRs", 40), ("SGPRs", 128), ("Spilled VGPRs", 0), ("Spilled SGPRs", 2), ("Scratch size", 0), ("LDS size", 8192),
                       ("Subgroups per SIMD", 24), ("Instructions", 1536)])
        XCTAssertEqual([aco.vgprs, aco.sgprs, aco.spilledVGPRs, aco.spilledSGPRs, aco.scratchBytes, aco.ldsBytes, aco.instructions],
                       [40, 128, 0, 2, 0, 8192, 1536])
        XCTAssertEqual(aco.wavesPerSIMD, 24)
        XCTAssertEqual(aco.raw.count, 8)
        let nvidia = row([("Register Count", 72), ("Shared Memory Size", 4096), ("Local Memory Size", 16)])
        XCTAssertEqual([nvidia.vgprs, nvidia.ldsBytes, nvidia.scratchBytes], [72, 4096, 16])
        XCTAssertNil(nvidia.sgprs)
        let intel = row([("Instruction Count", 300), ("Spill Count", 3), ("Scratch Memory Size", 1024), ("Workgroup Memory Size", 512)])
        XCTAssertEqual([intel.instructions, intel.spilledVGPRs, intel.scratchBytes, intel.ldsBytes], [300, 3, 1024, 512])
    }

    func testTilesParseAndRefuseWhatThePathCannotRun() throws {
        let t = try SharedMemoryTiles.parse("workgroup=128,rows=8,depth=32")
        XCTAssertEqual([t.workgroupSize, t.rowBlock, t.columnBlock, t.depth], [128, 8, SharedMemoryTiles().columnBlock, 32])
        XCTAssertEqual(try SharedMemoryTiles.parse(t.description), t)
        for bad in ["rows=3", "workgroup=32", "depth=128", "rows", "lanes=4", "rows=-1"] {
            XCTAssertThrowsError(try SharedMemoryTiles.parse(bad), bad) { XCTAssertTrue("\($0)".contains(bad.split(separator: "=").first!), "\($0)") }
        }
    }
}

/// A value shared between the threads of concurrentPerform.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
