import Foundation
import PackagePlugin

/// Compiles every `Shaders/*.comp` of the package to SPIR-V with glslangValidator.
/// The `.spv` files become resources of the target (read through `Bundle.module`).
/// Every `.comp` depends on every `Shaders/*.glsl` include, so a changed include recompiles all.
@main
struct CompileShaders: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let shaderDir = context.package.directoryURL.appending(path: "Shaders")
        let files = try FileManager.default.contentsOfDirectory(at: shaderDir, includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let includes = files.filter { $0.pathExtension == "glsl" }
        let compiler = try findOnPath("glslangValidator")
        let outDir = context.pluginWorkDirectoryURL.appending(path: "Shaders")
        // Shaders that use subgroup operations (their SHARE paths) are also compiled without them, as
        // <name>_nosg.spv (-DNO_SUBGROUPS): the portable tiles load that one, so they need no subgroup support.
        return try files.filter { $0.pathExtension == "comp" }.flatMap { source -> [Command] in
            let name = source.deletingPathExtension().lastPathComponent
            let usesSubgroups = try String(contentsOf: source, encoding: .utf8).contains("GL_KHR_shader_subgroup")
            let variants: [(String, [String])] = [(name, [])] + (usesSubgroups ? [("\(name)_nosg", ["-DNO_SUBGROUPS"])] : [])
            return variants.map { output, defines in
                .buildCommand(
                    displayName: "Compiling shader \(output).spv",
                    executable: compiler,
                    arguments: ["-V", "--target-env", "vulkan1.1", "-I\(shaderDir.path)"] + defines
                        + ["-o", outDir.appending(path: "\(output).spv").path, source.path],
                    inputFiles: [source] + includes,
                    outputFiles: [outDir.appending(path: "\(output).spv")]
                )
            }
        }
    }
}

/// glslangValidator comes from the system package glslang-tools, not from SwiftPM, so look it up on PATH.
private func findOnPath(_ tool: String) throws -> URL {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
        let candidate = URL(fileURLWithPath: dir).appending(path: tool)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw ShaderPluginError.toolMissing(tool)
}

enum ShaderPluginError: Error, CustomStringConvertible {
    case toolMissing(String)
    var description: String {
        switch self {
        case .toolMissing(let t): return "\(t) not found on PATH: install glslang-tools (make deps)"
        }
    }
}
