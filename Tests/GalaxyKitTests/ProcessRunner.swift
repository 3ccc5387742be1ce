import Foundation

/// What a program printed and how it ended.
struct ProcessOutput {
    var status: Int32
    var stdout: String
    var stderr: String
    var output: String { stdout + stderr }
}

/// Runs `executable` to its end with `env` added to this process's environment. stderr is drained beside
/// stdout, so that a child filling one pipe never stalls.
func runProcess(_ executable: URL, _ args: [String], env: [String: String] = [:]) throws -> ProcessOutput {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return ProcessOutput(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

/// Open MPI's settings for the tests: root in CI containers, more ranks than cores on this machine; and a rank
/// waiting in a collective yields its core instead of spinning on it: with more ranks than free cores (make test
/// runs another chain of tests beside these) a spinning rank takes the core the working one needs.
///
/// No binding (OMPI_MCA_hwloc_base_binding_policy=none): Open MPI binds each rank of a small job to one core, and
/// llvmpipe's shader cache keys its kernels by the CPUs a process may run on, so a bound rank found nothing that
/// the single-process runs had compiled and JIT-compiled the whole network again (about 25 s of CPU per job with
/// an empty cache; measured 2026-12-03: a warm cache's 29 entries, and a 1-rank mpirun job wrote 28 more). The
/// results do not depend on it: lavapipe's workgroups compute the same bits on any number of threads.
let mpiTestEnvironment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1",
                          "OMPI_MCA_mpi_yield_when_idle": "1", "OMPI_MCA_hwloc_base_binding_policy": "none"]

/// How a program run by `runLogged` ended, with stdout and stderr together in the order written.
struct LoggedOutput {
    var status: Int32
    var output: String
}

/// Runs `executable` with `env` added, stdout and stderr going to one log file in `folder`; `started` sees the
/// process and its log while it runs (to signal or kill it at a point of its progress).
func runLogged(_ executable: URL, _ args: [String], env: [String: String] = [:], in folder: URL,
               started: (Process, URL) throws -> Void = { _, _ in }) throws -> LoggedOutput {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let log = folder.appendingPathComponent("log-\(UUID().uuidString).txt")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    p.standardOutput = handle
    p.standardError = handle
    try p.run()
    try started(p, log)
    p.waitUntilExit()
    try handle.close()
    return LoggedOutput(status: p.terminationStatus, output: try String(contentsOf: log, encoding: .utf8))
}

/// Sets `values` in this process's environment (read by the code under test through ProcessInfo) and returns what
/// puts back the values they replaced, unsetting those that were not set: `defer { restore() }`.
func setEnvironment(_ values: [String: String]) -> () -> Void {
    let saved = values.keys.map { ($0, ProcessInfo.processInfo.environment[$0]) }
    for (name, value) in values { setenv(name, value, 1) }
    return { for (name, value) in saved { if let value { setenv(name, value, 1) } else { unsetenv(name) } } }
}
