import Foundation
import XCTest
@testable import GalaxyKit

/// What ends a long run, tried as a user (or a scheduler, or a failing GPU) would: a second process on
/// the run directory, a forgotten --resume, SIGTERM and SIGUSR1, kill -9 between periodic states, a lost
/// or full device, and two processes preparing one data folder.
extension CLITests {
    /// A `galaxy` process running in the background; its stdout and stderr go to files.
    final class Background {
        let process = Process()
        let out: URL, err: URL
        init(_ args: [String], env: [String: String] = [:], in dir: URL) throws {
            out = dir.appendingPathComponent("bg-\(UUID().uuidString).out")
            err = dir.appendingPathComponent("bg-\(UUID().uuidString).err")
            for f in [out, err] { _ = FileManager.default.createFile(atPath: f.path, contents: nil) }
            process.executableURL = CLITests.executable
            process.arguments = args
            var environment = ProcessInfo.processInfo.environment
            for (k, v) in env { environment[k] = v }
            process.environment = environment
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = try FileHandle(forWritingTo: err)
            try process.run()
        }
        var stdout: String { (try? String(contentsOf: out, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOf: err, encoding: .utf8)) ?? "" }
        /// Polls `condition` until it holds (true) or the process ends or 10 minutes pass (false).
        func waitUntil(_ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(600)
            while Date() < deadline {
                if condition() { return true }
                if !process.isRunning { return condition() }
                usleep(50_000)
            }
            return false
        }
        func finish() -> Int32 {
            process.waitUntilExit()
            return process.terminationStatus
        }
        /// The steps done of the epoch the progress line shows now ("epoch 2/3 17/48 ...").
        func progress(epoch: Int) -> Int? {
            let lines = stderr.split(whereSeparator: { $0 == "\r" || $0 == "\n" })
            guard let last = lines.last(where: { $0.hasPrefix("epoch \(epoch)/") }) else { return nil }
            let fields = last.split(separator: " ")
            guard fields.count > 2 else { return nil }
            return Int(fields[2].split(separator: "/")[0])
        }
    }

    /// A synthetic data set of `count` images, prepared.
    func preparedData(count: Int, seed: Int) throws -> String {
        let data = dir.appendingPathComponent("data").path
        XCTAssertEqual(try galaxy(["synth", "--count", "\(count)", "--seed", "\(seed)", "--out", data]).status, 0)
        XCTAssertEqual(try galaxy(["prepare", data]).status, 0)
        return data
    }

    /// Where fixtures shared by several tests live; CLITests.tearDown() (the class's) removes it.
    static let sharedFixtures = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-cli-shared-\(UUID().uuidString)")
    nonisolated(unsafe) static var straight: (data: String, weights: Data)?

    /// The uninterrupted run that the tests which stop, kill or time out a run resume their way to, trained once for
    /// all of them: 20 synthetic images (16 training images at batch 1: 16 steps an epoch, 4 to evaluate), 2 epochs.
    /// `common`: its data and recipe, to which each test adds its run directory and --checkpoint-every.
    func straightRun() throws -> (data: String, common: [String], expected: Data) {
        if Self.straight == nil {
            let data = Self.sharedFixtures.appendingPathComponent("data20").path
            XCTAssertEqual(try galaxy(["synth", "--count", "20", "--seed", "22", "--out", data]).status, 0)
            XCTAssertEqual(try galaxy(["prepare", data]).status, 0)
            let run = Self.sharedFixtures.appendingPathComponent("straight").path
            let r = try galaxy(["train", "--run", run, "--checkpoint-every", "off", "--data", data] + Self.straightRecipe)
            XCTAssertEqual(r.status, 0, r.stderr)
            Self.straight = (data, try bytes(run))
        }
        let (data, weights) = try XCTUnwrap(Self.straight)
        return (data, ["--data", data] + Self.straightRecipe, weights)
    }
    static let straightRecipe = ["--epochs", "2", "--batch", "1", "--lr", "0.02"]

    func state(_ run: String) -> TrainingState? { try? RunDirectory(unlocked: URL(fileURLWithPath: run)).readState().state }
    func bytes(_ run: String, _ name: String = Trainer.lastWeights) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: "\(run)/\(name)")) }
    func leftovers(_ run: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: run)) ?? []).filter { $0.contains(AtomicFile.temporaryMarker) }
    }

    func testARunDirectoryHasOneOwnerAndIsNeverOverwritten() throws {
        let data = try preparedData(count: 20, seed: 21)
        let run = dir.appendingPathComponent("run").path
        XCTAssertEqual(try galaxy(["train", "--data", data, "--run", run, "--epochs", "1", "--batch", "4"]).status, 0)
        let (weights, metrics) = (try bytes(run), try bytes(run, "metrics.csv"))
        let best = try XCTUnwrap(state(run)?.bestTestRMSE)

        // A forgotten --resume: refused, saying what the directory holds and the two ways on; nothing changes.
        try assertFails(["train", "--data", data, "--run", run, "--epochs", "1", "--batch", "4"],
                        mentioning: [run, "1 of 1 epochs done", String(format: "best test RMSE %.5f", best), "galaxy train --resume \(run)", "--run NEW"])
        XCTAssertEqual(try bytes(run), weights)
        XCTAssertEqual(try bytes(run, "metrics.csv"), metrics)

        // While a process trains in it, every other train on it stops at once, naming the holder.
        let holder = try Background(["train", "--resume", run, "--epochs", "500", "--batch", "4"], in: dir)
        XCTAssertTrue(holder.waitUntil { holder.progress(epoch: 2) != nil }, holder.stderr)
        for args in [["train", "--resume", run], ["train", "--data", data, "--run", run, "--overwrite"]] {
            let started = Date()
            try assertFails(args, mentioning: [run, "in use by process \(holder.process.processIdentifier) on host \(ProcessInfo.processInfo.hostName)"])
            XCTAssertLessThan(Date().timeIntervalSince(started), 60, "\(args) waited instead of stopping at once")
        }
        kill(holder.process.processIdentifier, SIGKILL)
        XCTAssertEqual(holder.finish(), SIGKILL)
        XCTAssertEqual(holder.process.terminationReason, .uncaughtSignal)

        // The kernel dropped the dead holder's lock: --overwrite starts anew and says what it removed.
        let r = try galaxy(["train", "--data", data, "--run", run, "--epochs", "1", "--batch", "4", "--overwrite", "--seed", "7"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("--overwrite: removed last.state.safetensors, last.safetensors, best.safetensors, metrics.csv"), r.stdout)
        XCTAssertFalse(r.stdout.contains("events.out.tfevents"), "the new run's own event file was removed:\n\(r.stdout)")
        let events = try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(events.count, 1, "\(events)")
        XCTAssertEqual(state(run)?.epoch, 1)
        XCTAssertEqual(state(run)?.options.splitSeed, 7)
        XCTAssertEqual(leftovers(run), [])
    }

    /// SIGTERM and SIGUSR1 in the middle of an epoch stop at the next step with the state written (exit 75);
    /// kill -9 between two periodic states loses only what came after the last; a lost device stops with
    /// exit 69 and the state before it intact. Each run resumed ends bit for bit where an uninterrupted run does.
    func testStopsKillsAndLostDevicesResumeBitIdentically() throws {
        let (_, common, expected) = try straightRun()

        // SIGTERM during epoch 1, then SIGUSR1 during epoch 2 of the resumed run.
        let signalled = dir.appendingPathComponent("signalled").path
        for (signal, epoch, args) in [(SIGTERM, 1, ["train", "--run", signalled, "--checkpoint-every", "off"] + common),
                                      (SIGUSR1, 2, ["train", "--resume", signalled])] {
            let p = try Background(args, in: dir)
            XCTAssertTrue(p.waitUntil { (p.progress(epoch: epoch) ?? 0) >= 4 }, p.stderr)
            kill(p.process.processIdentifier, signal)
            XCTAssertEqual(p.finish(), ExitStatus.preempted, "signal \(signal):\n\(p.stderr)")
            XCTAssertTrue(p.stdout.contains("resume with: galaxy train --resume \(signalled)"), p.stdout)
            let s = try XCTUnwrap(state(signalled))
            XCTAssertEqual(s.epoch, epoch - 1, "signal \(signal) stopped in epoch \(epoch)")
            XCTAssertGreaterThan(s.step, 0, "signal \(signal): not a mid-epoch stop")
            XCTAssertLessThan(s.step, 16)
        }
        XCTAssertEqual(try galaxy(["train", "--resume", signalled]).status, 0)
        XCTAssertEqual(try bytes(signalled), expected, "SIGTERM + SIGUSR1 + resume differs from the uninterrupted run")

        // A second signal exits at once, writing nothing. (Two of the same kind sent together can merge into
        // one delivery; two kinds are both delivered, the second while the first waits for its step.)
        let twice = dir.appendingPathComponent("twice").path
        let p = try Background(["train", "--run", twice, "--checkpoint-every", "off"] + common, in: dir)
        XCTAssertTrue(p.waitUntil { (p.progress(epoch: 1) ?? 0) >= 2 }, p.stderr)
        kill(p.process.processIdentifier, SIGTERM)
        kill(p.process.processIdentifier, SIGUSR1)
        XCTAssertTrue([128 + SIGTERM, 128 + SIGUSR1].contains(p.finish()), "exit \(p.process.terminationStatus):\n\(p.stderr)")
        XCTAssertNil(state(twice), "the second signal should leave no state")
        XCTAssertEqual(leftovers(twice), [])

        // --checkpoint-every 0 writes the state after every step; kill -9 after step 3 of epoch 1 or later.
        let killed = dir.appendingPathComponent("killed").path
        let k = try Background(["train", "--run", killed, "--checkpoint-every", "0"] + common, in: dir)
        XCTAssertTrue(k.waitUntil { (self.state(killed)?.step ?? 0) >= 3 }, k.stderr)
        kill(k.process.processIdentifier, SIGKILL)
        _ = k.finish()
        let s = try XCTUnwrap(state(killed), "the state after kill -9 is not readable")
        XCTAssertTrue(s.step > 0 || s.epoch > 0)
        let resumed = try galaxy(["train", "--resume", killed])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try bytes(killed), expected, "kill -9 + resume differs from the uninterrupted run")

        // The 30th queue submission fails with VK_ERROR_DEVICE_LOST: in epoch 2 (an epoch is 16 steps and 4 evaluation steps).
        let lost = dir.appendingPathComponent("lost").path
        let failed = try galaxy(["train", "--run", lost, "--checkpoint-every", "off"] + common, env: ["GALAXY_FAULT": "submit:30:device-lost"])
        XCTAssertEqual(failed.status, ExitStatus.deviceFailed, failed.stderr)
        for text in ["VK_ERROR_DEVICE_LOST", "vkQueueSubmit", "state saved after epoch 1 is intact", "galaxy train --resume \(lost)"] {
            XCTAssertTrue(failed.stderr.contains(text), "lacks \"\(text)\":\n\(failed.stderr)")
        }
        XCTAssertEqual(state(lost)?.epoch, 1)
        XCTAssertEqual(leftovers(lost), [])
        XCTAssertEqual(try galaxy(["train", "--resume", lost]).status, 0)
        XCTAssertEqual(try bytes(lost), expected, "device loss + resume differs from the uninterrupted run")
    }

    /// predict, eval and submit on a device that is lost or full: exit 69, what failed, no output file.
    func testALostOrFullDeviceIsAClearErrorAndWritesNothing() throws {
        let data = try preparedData(count: 8, seed: 23)
        let checkpoint = dir.appendingPathComponent("w.safetensors")
        try ModelWeights(outputs: 37, seed: 3).save(to: checkpoint)
        let image = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: "\(data)/images_training_rev1").sorted().first)
        let submission = dir.appendingPathComponent("submission.csv")
        for (fault, text) in [("submit:1:device-lost", "VK_ERROR_DEVICE_LOST"), ("wait:1:device-lost", "VK_ERROR_DEVICE_LOST"),
                              ("allocate:2:out-of-device-memory", "VK_ERROR_OUT_OF_DEVICE_MEMORY"),
                              ("submit:1:out-of-host-memory", "VK_ERROR_OUT_OF_HOST_MEMORY")] {
            for args in [["predict", "--checkpoint", checkpoint.path, "\(data)/images_training_rev1/\(image)"],
                         ["eval", "--checkpoint", checkpoint.path, "--data", data],
                         ["submit", "--checkpoint", checkpoint.path, "--images", "\(data)/images_training_rev1", "--out", submission.path]] {
                let r = try galaxy(args, env: ["GALAXY_FAULT": fault])
                XCTAssertEqual(r.status, ExitStatus.deviceFailed, "\(fault) \(args[0]):\n\(r.stderr)")
                XCTAssertTrue(r.stderr.contains(text) && r.stderr.contains("nothing was written"), "\(fault) \(args[0]):\n\(r.stderr)")
                XCTAssertFalse(FileManager.default.fileExists(atPath: submission.path), "\(fault): a submission was written")
            }
        }
        try assertFails(["predict", "--checkpoint", checkpoint.path, "\(data)/images_training_rev1/\(image)"], mentioning: ["GALAXY_FAULT=bogus"],
                        env: ["GALAXY_FAULT": "bogus"])
    }

    /// A device that stops answering: a wait past its limit ends train, predict and eval as a lost device does
    /// (exit 69, the saved state intact, the command that resumes), and the message gives the limit and how to
    /// raise it. Once injected (`wait:N:timeout`, the limit derived from the work or set by GALAXY_WAIT_TIMEOUT),
    /// once for real: GALAXY_WAIT_TIMEOUT=0.001 runs out while lavapipe still works, and the process must end
    /// promptly without waiting for that work or crashing under it.
    func testADeviceThatStopsAnsweringEndsTheCommandLikeALostOne() throws {
        let (data, recipe, expected) = try straightRun()
        let common = recipe + ["--checkpoint-every", "off"]
        let derived = try NSRegularExpression(pattern: "stopped answering: its work did not finish within [0-9]+ seconds, the limit galaxy derives")
        func hasDerivedLimit(_ text: String) -> Bool { derived.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil }

        // The 30th wait (step 10 of epoch 2, one wait a step) times out: the state of epoch 1 is intact, and resumed
        // the run ends bit for bit where an uninterrupted one does.
        let hung = dir.appendingPathComponent("hung").path
        var r = try galaxy(["train", "--run", hung] + common, env: ["GALAXY_FAULT": "wait:30:timeout"])
        XCTAssertEqual(r.status, ExitStatus.deviceFailed, r.stderr)
        XCTAssertTrue(hasDerivedLimit(r.stderr), r.stderr)
        for text in ["VK_TIMEOUT", "vkWaitForFences", "GALAXY_WAIT_TIMEOUT=SECONDS", "state saved after epoch 1 is intact", "galaxy train --resume \(hung)"] {
            XCTAssertTrue(r.stderr.contains(text), "lacks \"\(text)\":\n\(r.stderr)")
        }
        XCTAssertEqual(state(hung)?.epoch, 1)
        XCTAssertEqual(leftovers(hung), [])
        XCTAssertEqual(try galaxy(["train", "--resume", hung]).status, 0)
        XCTAssertEqual(try bytes(hung), expected, "a timed-out wait + resume differs from the uninterrupted run")

        // For real: the first step's wait runs out while the device still works on it; nothing saved yet.
        let real = dir.appendingPathComponent("real").path
        let started = Date()
        r = try galaxy(["train", "--run", real] + common, env: ["GALAXY_WAIT_TIMEOUT": "0.001"])
        XCTAssertEqual(r.status, ExitStatus.deviceFailed, r.stderr)
        for text in ["stopped answering: its work did not finish within 0.001 seconds, the limit GALAXY_WAIT_TIMEOUT=0.001 sets",
                     "raise it there", "No state had been saved yet"] {
            XCTAssertTrue(r.stderr.contains(text), "lacks \"\(text)\":\n\(r.stderr)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 120, "the process waited for the device it had given up on")
        XCTAssertNil(state(real))

        // predict and eval, injected with the derived limit and with a set one, and for real: nothing is written.
        let checkpoint = "\(hung)/\(Trainer.lastWeights)"
        let image = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: "\(data)/images_training_rev1").sorted().first)
        for args in [["predict", "--checkpoint", checkpoint, "\(data)/images_training_rev1/\(image)"], ["eval", "--checkpoint", checkpoint, "--data", data]] {
            r = try galaxy(args, env: ["GALAXY_FAULT": "wait:1:timeout"])
            XCTAssertEqual(r.status, ExitStatus.deviceFailed, "\(args[0]):\n\(r.stderr)")
            XCTAssertTrue(hasDerivedLimit(r.stderr) && r.stderr.contains("GALAXY_WAIT_TIMEOUT=SECONDS") && r.stderr.contains("nothing was written"),
                          "\(args[0]):\n\(r.stderr)")
            r = try galaxy(args, env: ["GALAXY_FAULT": "wait:1:timeout", "GALAXY_WAIT_TIMEOUT": "20m"])
            XCTAssertEqual(r.status, ExitStatus.deviceFailed, "\(args[0]):\n\(r.stderr)")
            XCTAssertTrue(r.stderr.contains("within 1200 seconds, the limit GALAXY_WAIT_TIMEOUT=20m sets"), "\(args[0]):\n\(r.stderr)")
            r = try galaxy(args, env: ["GALAXY_WAIT_TIMEOUT": "0.001"])
            XCTAssertEqual(r.status, ExitStatus.deviceFailed, "\(args[0]):\n\(r.stderr)")
            XCTAssertTrue(r.stderr.contains("within 0.001 seconds") && r.stderr.contains("nothing was written"), "\(args[0]):\n\(r.stderr)")
            XCTAssertFalse(r.stdout.contains("RMSE") || r.stdout.contains("Q1"), "\(args[0]) printed results:\n\(r.stdout)")
        }
        // A setting that is not a time, and a timeout injected where no call has a time limit.
        try assertFails(["eval", "--checkpoint", checkpoint, "--data", data], mentioning: ["GALAXY_WAIT_TIMEOUT=soon", "above 0"],
                        env: ["GALAXY_WAIT_TIMEOUT": "soon"])
        try assertFails(["eval", "--checkpoint", checkpoint, "--data", data], mentioning: ["GALAXY_WAIT_TIMEOUT=0", "above 0"],
                        env: ["GALAXY_WAIT_TIMEOUT": "0"])
        try assertFails(["eval", "--checkpoint", checkpoint, "--data", data], mentioning: ["GALAXY_FAULT=submit:1:timeout", "wait only"],
                        env: ["GALAXY_FAULT": "submit:1:timeout"])
    }

    /// Two processes preparing one data folder: one builds, the other waits and uses it. A read-only data
    /// folder: the cache goes to the user's cache folder, and galaxy says where.
    func testConcurrentPreparesBuildOnceAndAReadOnlyFolderUsesTheUserCache() throws {
        let data = dir.appendingPathComponent("data").path
        XCTAssertEqual(try galaxy(["synth", "--count", "400", "--seed", "24", "--out", data]).status, 0)
        // This test holds the prepare lock first, so that both processes find it taken whatever their timing;
        // once it lets go, one prepares and the other waits for it, then reads what it wrote.
        let cache = URL(fileURLWithPath: "\(data)/galaxy-cache.bin")
        var held: FileLock? = try FileLock.acquire(cache.appendingPathExtension("lock"), purpose: "test")
        let (a, b) = (try Background(["prepare", data], in: dir), try Background(["prepare", data], in: dir))
        XCTAssertTrue(a.waitUntil { a.stderr.contains("waiting for process \(getpid())") && b.stderr.contains("waiting for process \(getpid())") },
                      a.stderr + b.stderr)
        held?.release()
        held = nil
        XCTAssertEqual(a.finish(), 0, a.stderr)
        XCTAssertEqual(b.finish(), 0, b.stderr)
        let outputs = [a.stdout, b.stdout]
        XCTAssertEqual(outputs.filter { $0.hasPrefix("wrote ") }.count, 1, "exactly one process prepares:\n\(outputs)")
        XCTAssertEqual(outputs.filter { $0.hasPrefix("up to date: ") }.count, 1, "the other uses its cache:\n\(outputs)")
        let prepared = try GalaxyCache.loadOrPrepare(DataSource(dataDir: URL(fileURLWithPath: data)), strict: true, progress: nil)
        XCTAssertEqual(prepared.count, 400)

        // Read-only: as another user when the tests run as root (root writes anywhere), else by permissions.
        try FileManager.default.removeItem(at: cache)
        let userCache = dir.appendingPathComponent("user-cache")
        try FileManager.default.createDirectory(at: userCache, withIntermediateDirectories: true)
        let r: Result
        if getuid() == 0 {
            for path in [dir.path, userCache.path] { chmod(path, 0o777) }
            _ = try Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "a+rX,a-w", data]).waitUntilExit()
            // The other user runs a copy of galaxy (and its shader bundle) from here: the build folder may lie
            // in a directory only root can enter (a clone under /root, or in a mode-700 folder).
            let bin = dir.appendingPathComponent("bin")
            try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
            for name in ["galaxy", "galaxy_GalaxyKit.resources"] {
                try FileManager.default.copyItem(at: CLITests.executable.deletingLastPathComponent().appendingPathComponent(name), to: bin.appendingPathComponent(name))
            }
            _ = try Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "a+rX", bin.path]).waitUntilExit()
            r = try runProcess(URL(fileURLWithPath: "/usr/bin/setpriv"),
                               ["--reuid=65534", "--regid=65534", "--clear-groups", "env", "XDG_CACHE_HOME=\(userCache.path)",
                                bin.appendingPathComponent("galaxy").path, "prepare", data])
        } else {
            chmod(data, 0o555)
            r = try galaxy(["prepare", data], env: ["XDG_CACHE_HOME": userCache.path])
        }
        _ = try Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", data]).waitUntilExit()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(data) cannot be written: the prepared cache is \(userCache.path)/galaxy/"), r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("wrote \(userCache.path)/galaxy/"), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.path))
    }

    /// The demo's flags on real images with the spiral label kill the one output in the first epoch: galaxy
    /// warns, says what to change and counts it in metrics.csv; with --stop-when-dead it stops there (exit 3).
    /// (Without the option the same warning is given and the run goes on: `LearningMonitorTests`, and by hand.)
    func testDeadOutputsWarnAndStopWhenAsked() throws {
        let sample = CLITests.shared.appendingPathComponent("kaggle-sample")
        let data = ["--csv", sample.appendingPathComponent("spiral_labels.csv").path, "--images", sample.appendingPathComponent("images_training_rev1").path,
                    "--cache", dir.appendingPathComponent("spiral.bin").path]
        let recipe = ["--lr", "1.0", "--batch", "16", "--no-augment", "--mean-output-bias"]
        let stopped = dir.appendingPathComponent("stopped").path
        let r = try galaxy(["train", "--run", stopped, "--epochs", "5", "--stop-when-dead"] + data + recipe)
        XCTAssertEqual(r.status, ExitStatus.modelDead, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: every output (all 1) answered 0 for every test image after epoch 1"), r.stderr)
        XCTAssertTrue(r.stderr.contains("try a lower --lr (this run: 1; try 0.1)"), r.stderr)
        XCTAssertFalse(r.stderr.contains("--mean-output-bias (the outputs"), "advice the run already follows:\n\(r.stderr)")
        XCTAssertTrue(r.stdout.contains("stopped after epoch 1: every output is dead (--stop-when-dead)"), r.stdout)
        XCTAssertEqual(state(stopped)?.epoch, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(stopped)/\(Trainer.bestWeights)"))
        let csv = try String(contentsOf: URL(fileURLWithPath: "\(stopped)/metrics.csv"), encoding: .utf8).split(separator: "\n")
        let column = try XCTUnwrap(csv[0].split(separator: ",").firstIndex(of: "dead_outputs"))
        XCTAssertEqual(csv.dropFirst().map { String($0.split(separator: ",", omittingEmptySubsequences: false)[column]) }, ["1"])
    }
}
