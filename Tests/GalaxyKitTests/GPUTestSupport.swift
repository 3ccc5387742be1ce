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

    /// A buffer holding `values` bound on their own, between poisoned guard elements: a shader that reads
    /// before or past its binding and uses what it read gets NaN, and the result shows it. (This is the
    /// bounds check that every op test makes on any driver; GPU-assisted validation is not practical here,
    /// docs/architecture.md.)
    func input(_ values: [Float], _ label: String = "input") throws -> GuardedBuffer {
        let b = try DeviceBuffer(context, floats: GuardedBuffer.lead + values.count + Self.guardCount, label: label)
        try b.upload([Float](repeating: Self.poison, count: GuardedBuffer.lead) + values + [Float](repeating: Self.poison, count: Self.guardCount))
        return GuardedBuffer(buffer: b, count: values.count)
    }

    /// A poisoned output of `count` floats bound on their own, between guard elements.
    func output(_ count: Int, _ label: String = "output") throws -> GuardedBuffer {
        let b = try DeviceBuffer(context, floats: GuardedBuffer.lead + count + Self.guardCount, label: label)
        try b.upload([Float](repeating: Self.poison, count: GuardedBuffer.lead + count + Self.guardCount))
        return GuardedBuffer(buffer: b, count: count)
    }

    /// Runs `record` once in a fresh sequence.
    func run(_ record: (CommandSequence) throws -> Void) throws {
        let seq = try CommandSequence(context)
        try record(seq)
        try seq.submit()
    }

    /// Reads `count` results, checking that every one was written (finite) and both guards are intact.
    func result(_ g: GuardedBuffer, _ count: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        let all: [Float] = try g.buffer.download(count: GuardedBuffer.lead + g.count + Self.guardCount)
        let values = Array(all[GuardedBuffer.lead..<(GuardedBuffer.lead + count)])
        let firstBad = values.firstIndex { !$0.isFinite }
        XCTAssertNil(firstBad, "\(g.label)[\(firstBad ?? -1)] not written or not finite: \(firstBad.map { values[$0] } ?? 0)", file: file, line: line)
        let before = all[..<GuardedBuffer.lead], after = all[(GuardedBuffer.lead + g.count)...]
        XCTAssertFalse(before.contains { $0.bitPattern != Self.poison.bitPattern }, "\(g.label): a write before its binding", file: file, line: line)
        XCTAssertFalse(after.contains { $0.bitPattern != Self.poison.bitPattern }, "\(g.label): a write past its \(g.count) elements", file: file, line: line)
        return values
    }
}

/// A test buffer's `count` floats, bound (`whole`) at a 256-byte offset, after `lead` guard elements and
/// before `GPUTestCase.guardCount` more.
struct GuardedBuffer {
    static let lead = VulkanContext.bindingAlignment / 4
    let buffer: DeviceBuffer
    let count: Int
    var label: String { buffer.label }
    var whole: BufferRange { buffer.floats(Self.lead, count) }
    /// `count` floats from float `offset` of the bound values.
    func floats(_ offset: Int, _ count: Int) -> BufferRange {
        precondition(offset >= 0 && offset + count <= self.count, "\(label): floats \(offset)..<\(offset + count) of \(self.count)")
        return buffer.floats(Self.lead + offset, count)
    }
    /// The first `count` of the bound values, unchecked.
    func download<T: BitwiseCopyable>(_ type: T.Type = Float.self, count: Int) throws -> [T] {
        precondition(MemoryLayout<T>.stride == 4, "a guarded buffer holds 4-byte elements")
        return try buffer.download(type, count: count, from: Self.lead)
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
