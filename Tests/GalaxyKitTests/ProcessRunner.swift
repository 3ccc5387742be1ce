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
