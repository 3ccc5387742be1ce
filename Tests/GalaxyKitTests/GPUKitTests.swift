import Foundation
import XCTest
@testable import GalaxyKit

/// The GPU kit (`make gpu-kit`, kit/) dry-run on lavapipe, so that it works the first time on a GPU: the
/// kit assembled around the galaxy that the tests run (the kit's own is the same code, linked statically),
/// then its run.sh, shrunk, with lavapipe's 4-lane subgroups so that galaxy takes the
/// portable tiles a GPU takes.
final class GPUKitTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testKitRunsAndWritesItsReport() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-kit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let kit = dir.appendingPathComponent("kit"), out = dir.appendingPathComponent("out")
        XCTAssertEqual(try sh(["kit/assemble.sh", CLITests.executable.deletingLastPathComponent().path, kit.path]), 0)
        var env = ProcessInfo.processInfo.environment
        // 16 training images and one bench run: on lavapipe's 4-lane subgroups (the portable path, 2-3 images/s here)
        // the shape of each part is what is checked, not its speed.
        env["KIT_EPOCH_IMAGES"] = "20"
        env["KIT_BATCHES"] = "8"
        env["KIT_BENCH_RUNS"] = "1"
        // The device's own configuration only: the op tests check every other one in every pass.
        env["KIT_SELFTEST_ARGS"] = "--configuration device"
        env["LP_NATIVE_VECTOR_WIDTH"] = "128"
        XCTAssertEqual(try sh([kit.appendingPathComponent("run.sh").path, out.path], env: env), 0, "run.sh failed; logs in \(out.path)")

        let data = try Data(contentsOf: out.appendingPathComponent("report.json"))
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let selftest = try XCTUnwrap(report["selftest"] as? [String: Any], "no selftest in the report")
        XCTAssertEqual(selftest["failures"] as? [String], [])
        XCTAssertEqual(selftest["golden_checked"] as? Bool, true)
        XCTAssertEqual(selftest["configurations"] as? [String], ["device"])
        XCTAssertGreaterThan(selftest["checks"] as? Int ?? 0, 50)
        // The vote counts' loss is among the shaders checked against their references on the GPU.
        let ops = Set(selftest["ops"] as? [String] ?? [])
        XCTAssertTrue(ops.isSuperset(of: ["dirichlet_concentration", "dirichlet_forward", "dirichlet_backward", "conv2d_forward"]), "\(ops)")
        let bench = try XCTUnwrap((report["bench"] as? [String: Any])?["8"] as? [String: Any], "no bench at batch 8")
        XCTAssertGreaterThan(bench["train_images_per_second"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(bench["inference_images_per_second"] as? Double ?? 0, 0)
        let epoch = try XCTUnwrap(report["epoch"] as? [String: Any])
        let metrics = try XCTUnwrap(epoch["metrics"] as? [String: String], "no epoch in metrics.csv")
        XCTAssertEqual(metrics["epoch"], "1")
        XCTAssertGreaterThan(Double(metrics["seconds"] ?? "") ?? 0, 0)
        XCTAssertGreaterThan(epoch["train_process_seconds"] as? Double ?? 0, 0)

        // (a2) ran: lavapipe has no pipeline statistics, and says so; the kit's own galaxy, with the kit's own
        // Vulkan loader, reports them from a compiler that has them (ACO, on RADV's null device).
        let statsLog = try String(contentsOf: out.appendingPathComponent("shader-stats.log"), encoding: .utf8)
        XCTAssertTrue(statsLog.contains("VK_KHR_pipeline_executable_properties"), statsLog)
        XCTAssertTrue(report["shader_stats"] is NSNull, "\(report["shader_stats"] ?? "absent")")
        env["RADV_FORCE_FAMILY"] = "navi21"
        env["VK_DRIVER_FILES"] = GPUCompilerTests.radv
        env["LD_LIBRARY_PATH"] = kit.appendingPathComponent("lib").path
        let stats = try runProcess(kit.appendingPathComponent("galaxy"), ["bench", "--shader-stats", "--json"], env: env)
        XCTAssertEqual(stats.status, 0, stats.stderr)
        let pipelines = (try? JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])?["pipelines"] as? [[String: Any]]
        XCTAssertGreaterThan(pipelines?.count ?? 0, 10, stats.stdout)
    }

    /// Runs a command from the repository root; its output goes to this test's log.
    private func sh(_ args: [String], env: [String: String]? = nil) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.currentDirectoryURL = Self.root
        if let env { p.environment = env }
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}
