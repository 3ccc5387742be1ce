import Foundation
import XCTest
@testable import GalaxyKit

/// `mpirun -np 2 galaxy train` against the single-process run, resuming across rank counts, a rerun's
/// bits, and a rank killed mid-run. Both ranks share this machine's lavapipe.
final class DistributedTests: XCTestCase {
    var dir: URL!
    static let mpirun = URL(fileURLWithPath: "/usr/bin/mpirun")

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.mpirun.path), "mpirun not installed (make deps installs openmpi-bin)")
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-mpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    struct Result { var status: Int32; var output: String }

    /// Runs `executable` with stdout and stderr together; `started` sees the process while it runs.
    func run(_ executable: URL, _ args: [String], env extra: [String: String] = [:], started: (Process, URL) throws -> Void = { _, _ in }) throws -> Result {
        let r = try runLogged(executable, args, env: mpiTestEnvironment.merging(extra) { $1 }, in: dir, started: started)
        XCTAssertFalse(r.output.contains("[vulkan validation]"), "validation messages:\n\(r.output)")
        return Result(status: r.status, output: r.output)
    }

    func galaxy(_ args: [String]) throws -> Result { try run(CLITests.executable, args) }
    func mpi(_ ranks: Int, _ args: [String], env: [String: String] = [:], started: (Process, URL) throws -> Void = { _, _ in }) throws -> Result {
        try run(Self.mpirun, ["-np", "\(ranks)", CLITests.executable.path] + args, env: env, started: started)
    }

    /// (train RMSE, test RMSE) per epoch from metrics.csv.
    func metrics(_ run: URL) throws -> [(Double, Double)] {
        let csv = try String(contentsOf: run.appendingPathComponent("metrics.csv"), encoding: .utf8)
        return csv.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return (Double(f[1])!, Double(f[2])!)
        }
    }

    func weights(_ run: URL, outputs: Int = 37) throws -> [Float] {
        let w = try ModelWeights.load(run.appendingPathComponent(Trainer.lastWeights), expectedOutputs: outputs).weights
        return w.names.flatMap { w.tensors[$0]!.values }
    }

    func copy(_ from: URL, _ to: URL) throws { try FileManager.default.copyItem(at: from, to: to) }

    /// The distributed gradient is the single-process one summed in another order: partial sums per
    /// shard, then added. Reassociating float32 sums moves each gradient element by a few units in the
    /// last place of the magnitudes summed; over the 2 x 3 SGD steps here that stays far below 1e-5 of
    /// the weights' scale and of the RMSEs (a wrong shard or scale moves them by 1e-2 or more).
    static let tolerance = 1e-5

    func assertClose(_ a: [(Double, Double)], _ b: [(Double, Double)], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.0, y.0, accuracy: Self.tolerance, "\(what): train RMSE", file: file, line: line)
            XCTAssertEqual(x.1, y.1, accuracy: Self.tolerance, "\(what): test RMSE", file: file, line: line)
        }
    }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = Double(a.map { abs($0) }.max() ?? 1)
        let worst = zip(a, b).map { abs(Double($0) - Double($1)) }.max() ?? 0
        XCTAssertLessThan(worst, Self.tolerance * scale, "\(what): weights differ by \(worst)", file: file, line: line)
    }

    func testTwoRanksTrainLikeOneAndResumeAcrossRankCounts() throws {
        let data = dir.appendingPathComponent("data").path
        XCTAssertEqual(try galaxy(["synth", "--count", "60", "--seed", "11", "--out", data]).status, 0)
        // 48 training images at batch 20: steps of 20, 20 and 8 rows, so the shards are 10/10 and 4/4;
        // with augmentation, which is keyed by image, not by position in the batch.
        let common = ["--data", data, "--batch", "20", "--lr", "0.05", "--output", "constrained"]
        let (s1, d1) = (dir.appendingPathComponent("s1"), dir.appendingPathComponent("d1"))
        var r = try galaxy(["train", "--run", s1.path, "--epochs", "1"] + common)
        XCTAssertEqual(r.status, 0, r.output)
        r = try mpi(2, ["train", "--run", d1.path, "--epochs", "1"] + common)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("distributed: 2 ranks"), r.output)
        XCTAssertTrue(r.output.contains("rank 1 of 2: device"), r.output)
        assertClose(try metrics(d1), try metrics(s1), "epoch 1, 2 ranks vs 1")
        assertClose(try weights(d1), try weights(s1), "epoch 1 weights, 2 ranks vs 1")

        // A second 2-rank run, with the images streamed through 600 KiB (60 images are 837 KiB; a slot holds one
        // batch of 20): each rank streams its shards, and the weights are the resident run's, bit for bit. That is
        // also the rerun check: two 2-rank runs give the same bits, as the gradients are added in rank order (an
        // order that depended on timing would show here; a separate resident rerun was dropped as redundant).
        let ds = dir.appendingPathComponent("d1s")
        r = try mpi(2, ["train", "--run", ds.path, "--epochs", "1", "--device-memory", "600K"] + common)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("they stream through 2 slots of 20 images"), r.output)
        XCTAssertEqual(try Data(contentsOf: ds.appendingPathComponent(Trainer.lastWeights)), try Data(contentsOf: d1.appendingPathComponent(Trainer.lastWeights)))

        // Epoch 2 by resuming: 2 ranks -> 2, 2 -> 1 and 1 -> 2. All three agree within the tolerance.
        let (d2, y2, x2) = (dir.appendingPathComponent("d2"), dir.appendingPathComponent("y2"), dir.appendingPathComponent("x2"))
        try copy(d1, d2); try copy(d1, y2); try copy(s1, x2)
        r = try mpi(2, ["train", "--resume", d2.path, "--epochs", "2"])
        XCTAssertEqual(r.status, 0, r.output)
        r = try galaxy(["train", "--resume", y2.path, "--epochs", "2"])
        XCTAssertEqual(r.status, 0, r.output)
        r = try mpi(2, ["train", "--resume", x2.path, "--epochs", "2"])
        XCTAssertEqual(r.status, 0, r.output)
        for run in [d2, y2, x2] { XCTAssertEqual(try metrics(run).count, 2, run.lastPathComponent) }
        assertClose(try metrics(y2), try metrics(d2), "resumed by 1 rank vs by 2")
        assertClose(try metrics(x2), try metrics(d2), "1-rank epoch 1 resumed by 2 ranks vs 2-rank run")
        assertClose(try weights(y2), try weights(d2), "epoch 2 weights, resumed by 1 rank vs by 2")
        assertClose(try weights(x2), try weights(d2), "epoch 2 weights, 1 -> 2 ranks vs 2 -> 2")
    }

    /// Vote counts (the Dirichlet loss, DECaLS tree): 2 ranks, the images streamed, train like 1 rank with the images
    /// resident. The shards are unequal (a step of 7 rows is 4 + 3, the 9 test galaxies 5 + 4), so a loss or gradient
    /// averaged per rank instead of per galaxy moves the figures by percents; galaxies' NLLs differ severalfold (5
    /// votes or 30-60). The NLLs are float32 sums of 36 (train) or 9 (test) per-galaxy terms in another order: within
    /// 35 roundings, 2.1e-6 of the sum; the weights differ as the MSE run's do: 1e-5 relative holds both.
    func testTwoRanksTrainVoteCountsLikeOneWithTheImagesStreamed() throws {
        let data = dir.appendingPathComponent("counts").path
        XCTAssertEqual(try galaxy(["synth", "--counts", "--schema", "decals-dr5", "--count", "45", "--seed", "15", "--out", data]).status, 0)
        // 36 training galaxies at batch 7: 5 steps of 7 (4 + 3 per rank) and one of 1 (rank 1's shard empty).
        let common = ["--data", data, "--epochs", "1", "--batch", "7", "--lr", "0.01", "--mean-output-bias"]
        let (s1, d1) = (dir.appendingPathComponent("s1"), dir.appendingPathComponent("d1"))
        var r = try galaxy(["train", "--run", s1.path] + common)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("loss dirichlet"), r.output)
        // 45 images are 628 KiB; 300 KiB holds the two slots of a rank's steps (7 images each), not the data set.
        r = try mpi(2, ["train", "--run", d1.path, "--device-memory", "300K"] + common)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("distributed: 2 ranks") && r.output.contains("they stream through 2 slots"), r.output)
        let (one, two) = (try metrics(s1), try metrics(d1))
        XCTAssertEqual(one.count, 1)
        XCTAssertEqual(two.count, 1)
        for (a, b) in zip(one, two) {
            XCTAssertEqual(b.0, a.0, accuracy: Self.tolerance * a.0, "train NLL, 2 ranks streamed vs 1 resident")
            XCTAssertEqual(b.1, a.1, accuracy: Self.tolerance * a.1, "test NLL, 2 ranks streamed vs 1 resident")
        }
        let outputs = AnswerSchema.decalsDR5.answerCount
        assertClose(try weights(d1, outputs: outputs), try weights(s1, outputs: outputs), "Dirichlet weights, 2 ranks streamed vs 1 resident")
        XCTAssertTrue(try String(contentsOf: d1.appendingPathComponent("metrics.csv"), encoding: .utf8).hasPrefix("epoch,train_nll,test_nll,"))
    }

    func testAKilledRankStopsTheRunAndKeepsTheCheckpoint() throws {
        let data = dir.appendingPathComponent("data").path
        XCTAssertEqual(try galaxy(["synth", "--count", "40", "--seed", "12", "--out", data]).status, 0)
        let run = dir.appendingPathComponent("run")
        let metricsFile = run.appendingPathComponent("metrics.csv")
        var killed: Int32 = 0
        let r = try mpi(2, ["train", "--data", data, "--run", run.path, "--epochs", "50", "--batch", "8"]) { p, _ in
            // After the first epoch's checkpoint, kill rank 1 in the middle of epoch 2 or later.
            let deadline = Date().addingTimeInterval(600)
            while !FileManager.default.fileExists(atPath: metricsFile.path) && p.isRunning && Date() < deadline { usleep(200_000) }
            guard p.isRunning, let pid = Self.rankProcess(1) else { return }
            killed = pid
            kill(pid, SIGKILL)
        }
        XCTAssertNotEqual(killed, 0, "rank 1 was not found running:\n\(r.output)")
        XCTAssertNotEqual(r.status, 0, r.output)
        // Every rank's start-up banner says "rank 1 of 2: device ...", so "rank 1" alone proves nothing: the report
        // of the death (mpirun's, as the killed rank writes nothing) names rank 1 and the SIGKILL. (Open MPI 4.1
        // reports the PID as 0, so the PID cannot be matched.)
        let death = try NSRegularExpression(pattern: #"process rank 1 with PID [0-9]+ on node \S+ exited on signal 9 \(Killed\)"#)
        XCTAssertNotNil(death.firstMatch(in: r.output, range: NSRange(r.output.startIndex..., in: r.output)),
                        "the output does not report the death of rank 1:\n\(r.output)")
        // The last checkpoint is whole: it loads, and its weights belong to its training state.
        let dataset = try GalaxyCache.loadOrPrepare(DataSource(dataDir: URL(fileURLWithPath: data)), strict: false, progress: nil)
        let (_, state) = try Trainer.loadResumable(run, data: dataset)
        XCTAssertGreaterThanOrEqual(state.epoch, 1)
    }

    /// SIGUSR1 to mpirun (Open MPI passes it to every rank, as Slurm's --signal does) in the middle of an
    /// epoch: every rank stops at the same step, rank 0 writes the state, exit 75. The resumed run then loses
    /// rank 1's device: exit 69, naming the rank and the state to resume from. Resumed once more, the run
    /// ends bit for bit where the uninterrupted 2-rank run does.
    func testSignalledAndDeviceLostRanksStopTogetherAndResumeBitIdentically() throws {
        let data = dir.appendingPathComponent("data").path
        XCTAssertEqual(try galaxy(["synth", "--count", "40", "--seed", "13", "--out", data]).status, 0)
        // 32 training images at batch 2: 16 steps of 1 image per rank; 8 test images.
        let common = ["--data", data, "--epochs", "1", "--batch", "2", "--lr", "0.05", "--checkpoint-every", "off"]
        let straight = dir.appendingPathComponent("straight")
        XCTAssertEqual(try mpi(2, ["train", "--run", straight.path] + common).status, 0)
        let expected = try Data(contentsOf: straight.appendingPathComponent(Trainer.lastWeights))

        let run = dir.appendingPathComponent("run")
        var r = try mpi(2, ["train", "--run", run.path] + common) { p, log in
            let deadline = Date().addingTimeInterval(600)
            func imagesDone() -> Int {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last { $0.hasPrefix("epoch 1/1 ") }
                return line.flatMap { Int($0.split(separator: " ")[2].split(separator: "/")[0]) } ?? 0
            }
            while imagesDone() < 4 && p.isRunning && Date() < deadline { usleep(50_000) }
            kill(p.processIdentifier, SIGUSR1)
        }
        XCTAssertEqual(r.status, ExitStatus.preempted, r.output)
        let dataset = try GalaxyCache.loadOrPrepare(DataSource(dataDir: URL(fileURLWithPath: data)), strict: false, progress: nil)
        let (_, stopped) = try Trainer.loadResumable(run, data: dataset)
        XCTAssertEqual(stopped.epoch, 0)
        XCTAssertTrue((2..<12).contains(stopped.step), "stopped at step \(stopped.step) of 16")

        // Rank 1's 6th submission (two per step: its shard's pass and the SGD step) fails, a few steps on.
        r = try mpi(2, ["train", "--resume", run.path], env: ["GALAXY_FAULT": "submit:6:device-lost:1"])
        XCTAssertEqual(r.status, ExitStatus.deviceFailed, r.output)
        // "error: rank 1 of 2: " is the failed rank's own report (reportingErrors); the banners say "rank 1 of 2: device".
        for text in ["error: rank 1 of 2: ", "VK_ERROR_DEVICE_LOST", "state saved at epoch 1, step \(stopped.step) is intact",
                     "galaxy train --resume \(run.path)"] {
            XCTAssertTrue(r.output.contains(text), "lacks \"\(text)\":\n\(r.output)")
        }
        r = try mpi(2, ["train", "--resume", run.path])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try Data(contentsOf: run.appendingPathComponent(Trainer.lastWeights)), expected, "SIGUSR1, device loss and resumes differ")
    }

    /// Rank 1's device stops answering (a wait past its limit, injected): the job ends with exit 69, naming the
    /// rank, the limit and how to raise it, and the state to resume from, which then resumes to the end.
    func testARankWhoseDeviceStopsAnsweringEndsTheJobLikeALostDevice() throws {
        let data = dir.appendingPathComponent("data").path
        XCTAssertEqual(try galaxy(["synth", "--count", "20", "--seed", "14", "--out", data]).status, 0)
        // 16 training images at batch 2: 8 steps of 1 image per rank; the state is written after every step.
        let run = dir.appendingPathComponent("run")
        let common = ["--data", data, "--epochs", "1", "--batch", "2", "--lr", "0.05", "--checkpoint-every", "0"]
        // Rank 1 waits twice a step (its shard's pass and the SGD step): its 5th wait is in step 3.
        var r = try mpi(2, ["train", "--run", run.path] + common, env: ["GALAXY_FAULT": "wait:5:timeout:1"])
        XCTAssertEqual(r.status, ExitStatus.deviceFailed, r.output)
        for text in ["error: rank 1 of 2: ", "VK_TIMEOUT", "the device stopped answering", "GALAXY_WAIT_TIMEOUT=SECONDS",
                     "state saved at epoch 1, step 2 is intact", "galaxy train --resume \(run.path)"] {
            XCTAssertTrue(r.output.contains(text), "lacks \"\(text)\":\n\(r.output)")
        }
        r = try mpi(2, ["train", "--resume", run.path])
        XCTAssertEqual(r.status, 0, r.output)
        let dataset = try GalaxyCache.loadOrPrepare(DataSource(dataDir: URL(fileURLWithPath: data)), strict: false, progress: nil)
        XCTAssertEqual(try Trainer.loadResumable(run, data: dataset).1.epoch, 1)
    }

    /// The PID of the galaxy process that is rank `rank` of a running mpirun job.
    static func rankProcess(_ rank: Int) -> Int32? {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in procs {
            guard let pid = Int32(entry),
                  let cmd = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8), cmd.contains("galaxy\0train"),
                  let env = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            let vars = String(decoding: env, as: UTF8.self).split(separator: "\0")
            if vars.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}

/// galaxy loads Open MPI at run time, and only when an MPI launcher started it: a library that is missing or
/// is not Open MPI's is a clear error naming it, before any work (no mpirun needed to check that).
final class MPILibraryTests: XCTestCase {
    func testALauncherWithoutOpenMPIsLibraryIsAClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-mpilib-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let launched = ["OMPI_COMM_WORLD_SIZE": "2"]
        for (library, why) in [("/nonexistent/libmpi.so.40", "/nonexistent/libmpi.so.40: cannot open shared object file"),
                               ("libturbojpeg.so.0", "libturbojpeg.so.0 has no ompi_mpi_comm_world: not Open MPI 3 to 5")] {
            let r = try runLogged(CLITests.executable, ["bench", "--runs", "1"], env: launched.merging(["GALAXY_MPI_LIBRARY": library]) { $1 }, in: dir)
            XCTAssertNotEqual(r.status, 0, r.output)
            XCTAssertTrue(r.output.contains("cannot load Open MPI's library (\(why)"), r.output)
            XCTAssertTrue(r.output.contains("GALAXY_MPI_LIBRARY"), r.output)
            XCTAssertFalse(r.output.contains("images/s"), "benchmarked although the MPI job could not start:\n\(r.output)")
        }
    }
}
