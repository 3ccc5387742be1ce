public enum GalaxyError: Error, CustomStringConvertible {
    case missingShader(String)
    case message(String)
    public var description: String {
        switch self {
        case .missingShader(let n): return "shader \(n).spv is not in the bundle: the build did not compile Shaders/\(n).comp"
        case .message(let m): return m
        }
    }
}
