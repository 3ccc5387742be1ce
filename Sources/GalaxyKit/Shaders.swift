import Foundation

/// SPIR-V words of a compiled shader from `Shaders/`, bundled by the CompileShaders plugin.
public enum ShaderLibrary {
    public static func spirv(named name: String) throws -> [UInt32] {
        guard let url = Bundle.module.url(forResource: name, withExtension: "spv") else {
            throw GalaxyError.missingShader(name)
        }
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
    }
}
