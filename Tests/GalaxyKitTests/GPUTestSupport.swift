import XCTest
@testable import GalaxyKit

/// One Vulkan device for the whole test process (GALAXY_DEVICE picks it; lavapipe here).
enum TestDevice {
    nonisolated(unsafe) static var shared: Result<VulkanContext, Error> = Result { try VulkanContext() }
    static func context() throws -> VulkanContext { try shared.get() }
}

/// Base class of GPU tests: any Vulkan validation message during a test fails it.
class GPUTestCase: XCTestCase {
    var context: VulkanContext!
    var kernels: Kernels!

    override func setUpWithError() throws {
        context = try TestDevice.context()
        kernels = Kernels(context)
        _ = ValidationLog.drain()
    }

    override func tearDown() {
        let messages = ValidationLog.drain()
        XCTAssertTrue(messages.isEmpty, "Vulkan validation messages:\n" + messages.joined(separator: "\n"))
        kernels = nil
        context = nil
    }

    /// Bit pattern written before a dispatch: a NaN no arithmetic produces, so an element still
    /// holding it was not written, and a guard element that lost it was written out of bounds.
    static let poison = Float(bitPattern: 0x7FC0_DEAD)
    static let guardCount = 37

    /// A buffer holding `values` followed by poisoned guard elements.
    func input(_ values: [Float], _ label: String = "input") throws -> DeviceBuffer {
        let b = try DeviceBuffer(context, floats: values.count + Self.guardCount, label: label)
        try b.upload(values + [Float](repeating: Self.poison, count: Self.guardCount))
        return b
    }

    /// A poisoned output buffer for `count` floats plus guard elements.
    func output(_ count: Int, _ label: String = "output") throws -> DeviceBuffer {
        let b = try DeviceBuffer(context, floats: count + Self.guardCount, label: label)
        try b.upload([Float](repeating: Self.poison, count: count + Self.guardCount))
        return b
    }

    /// Runs `record` once in a fresh sequence.
    func run(_ record: (CommandSequence) throws -> Void) throws {
        let seq = try CommandSequence(context)
        try record(seq)
        try seq.submit()
    }

    /// Reads `count` results, checking that every one was written (finite) and the guard is intact.
    func result(_ b: DeviceBuffer, _ count: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        let all: [Float] = try b.download(count: count + Self.guardCount)
        let firstBad = all[..<count].firstIndex { !$0.isFinite }
        XCTAssertNil(firstBad, "\(b.label)[\(firstBad ?? -1)] not written or not finite: \(firstBad.map { all[$0] } ?? 0)", file: file, line: line)
        let guardBroken = all[count...].contains { $0.bitPattern != Self.poison.bitPattern }
        XCTAssertFalse(guardBroken, "\(b.label): a write past its \(count) elements", file: file, line: line)
        return Array(all[..<count])
    }
}

/// Random floats in [lo, hi), seeded.
func randomFloats(_ count: Int, seed: UInt64, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in rng.uniform(lo, hi) }
}

/// Asserts |got - want| <= bound elementwise and reports the first few mismatches and the worst ratio.
/// `want` is the Float64 reference; `bound` the float32 error bound of the GPU's arithmetic per element.
@discardableResult
func assertWithinBound(_ got: [Float], _ want: [Double], bound: [Double], _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) -> Double {
    XCTAssertEqual(got.count, want.count, "\(what): count", file: file, line: line)
    var worst = 0.0
    var failures: [String] = []
    for i in 0..<min(got.count, want.count) {
        let err = abs(Double(got[i]) - want[i])
        let ratio = err / max(bound[i], .leastNonzeroMagnitude)
        worst = max(worst, ratio)
        if !(err <= bound[i]) && failures.count < 5 {
            failures.append("[\(i)] got \(got[i]) want \(want[i]) err \(err) bound \(bound[i])")
        }
    }
    XCTAssertTrue(failures.isEmpty, "\(what) mismatches:\n" + failures.joined(separator: "\n"), file: file, line: line)
    print("\(what): worst error / float32 bound = \(String(format: "%.3g", worst))")
    return worst
}

/// Float32 error bound for sums of `terms` products: recursive summation of L terms in float32 is
/// off by at most about L*u*sum|terms| (u = 2^-24, Higham's gamma_L), plus the rounding of the
/// result itself. `absRef` is the reference evaluated on absolute values (= sum|terms| per element).
func sumBound(_ absRef: [Double], terms: Int) -> [Double] {
    let u = 0x1p-24
    return absRef.map { Double(terms + 2) * u * $0 + Double.leastNormalMagnitude }
}

extension Array where Element == Float {
    var asDouble: [Double] { map(Double.init) }
}
extension Array where Element == Double {
    var absolute: [Double] { map(abs) }
}

extension GPUTestCase {
    /// The paths every GEMM-shaped op is tested in beside the device's own: the shared-memory path
    /// (convolutions as implicit GEMMs) unsplit at 64 invocations per workgroup (minInvocations 1: full
    /// blocks, one chunk) and with its split reductions and shrunken blocks at the workgroup sizes GPUs get,
    /// 128 and 256. `make test`'s passes at other lane counts set GALAXY_TEST_VARIANTS=device: the device's
    /// own path only (these variants do not depend on the lane count and ran in the main pass).
    func gpuVariants() -> [(String, Kernels)] {
        if ProcessInfo.processInfo.environment["GALAXY_TEST_VARIANTS"] == "device" { return [] }
        // (Not "portable": the passes at 4- and 16-lane subgroups run the portable path as the device's own.)
        let out = SelfTest.configurations(context.info).filter { !["device", "portable", Self.quickTag].contains($0.0) }
        return out.map { name, path in (name, Kernels(context, path: path)) }
    }
}

extension GPUTestCase {
    static let quickTag = "lavapipe narrow"

    /// What a small training run gets on this device (KernelPath.forSmallJob): the network tests use it,
    /// so a cold `make test` compiles the network's pipelines once for them and the CLI tests together.
    var smallJobKernels: Kernels { Kernels(context, path: .forSmallJob(context.info)) }

    /// On the share path, the narrow share tiles beside the device's default ones: they add in the same
    /// order, so the bits must not depend on the share block sizes (SameBits).
    func quickVariants() -> [(String, Kernels)] {
        guard kernels.path == .subgroupShare() else { return [] }
        return [(Self.quickTag, Kernels(context, path: .subgroupShare(.narrow)))]
    }
}

/// One case's device result, against which the narrow SHARE tiles are compared bit for bit: they add every
/// sum in the order the quick tiles do.
struct SameBits {
    private var device: [UInt32]?

    mutating func check(_ tag: String, _ got: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        if tag == "device" { device = got.map(\.bitPattern) }
        guard tag == GPUTestCase.quickTag else { return }
        XCTAssertNotNil(device, "\(what): no device result to compare with", file: file, line: line)
        XCTAssertEqual(got.map(\.bitPattern), device, "\(what): the narrow SHARE tiles' bits differ from the quick ones'", file: file, line: line)
    }
}
