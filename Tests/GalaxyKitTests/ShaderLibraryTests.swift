import XCTest
@testable import GalaxyKit

/// The subgroup-free builds that the portable tiles load: no subgroup capability in their SPIR-V, so a
/// device without subgroup operations creates them; the SHARE builds keep theirs.
final class ShaderLibraryTests: XCTestCase {
    static let gemmShaped = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
                             "linear_forward", "linear_backward_input", "linear_backward_weight", "sgemm"]

    /// The operands of every OpCapability instruction (opcode 17) of a SPIR-V module.
    static func capabilities(_ words: [UInt32]) -> Set<UInt32> {
        var out: Set<UInt32> = []
        var i = 5  // after the header
        while i < words.count {
            let count = Int(words[i] >> 16), opcode = words[i] & 0xFFFF
            guard count > 0 else { break }
            if opcode == 17, i + 1 < words.count { out.insert(words[i + 1]) }
            i += count
        }
        return out
    }

    /// SPIR-V's GroupNonUniform capabilities: 61 (GroupNonUniform) to 68 (GroupNonUniformQuad).
    static let subgroupCapabilities = Set<UInt32>(61...68)

    func testPortableBuildsDeclareNoSubgroupCapability() throws {
        for name in Self.gemmShaped {
            let share = Self.capabilities(try ShaderLibrary.spirv(named: name))
            let free = Self.capabilities(try ShaderLibrary.spirv(named: Kernels.subgroupFree(name)))
            XCTAssertTrue(share.contains(64), "\(name).spv lost GroupNonUniformBallot: \(share.sorted())")
            XCTAssertTrue(free.isDisjoint(with: Self.subgroupCapabilities), "\(Kernels.subgroupFree(name)).spv declares \(free.sorted())")
            XCTAssertTrue(free.contains(1), "\(name): no Shader capability, not a SPIR-V compute module")
        }
    }

    /// A device without subgroupBroadcast in compute shaders gets the portable tiles, whatever its lanes.
    func testNoBallotMeansPortableTiles() {
        var info = DeviceInfo(index: 0, name: "cpu", type: "CPU", typeRank: 3, memoryBytes: 0, subgroupSize: 8, apiVersion: "1.3")
        XCTAssertEqual(TileConfig.forDevice(info), .lavapipeQuick)
        if ProcessInfo.processInfo.environment["GALAXY_TILES"] == nil {
            // lavapipe's jobs: the quick SHARE tiles, long or short; the portable ones for a few images' inference.
            XCTAssertEqual(TileConfig.forWork(info, images: 10_000_000, training: true), .lavapipeQuick)
            XCTAssertEqual(TileConfig.forWork(info, images: 100_000), .lavapipeQuick)
            XCTAssertEqual(TileConfig.forWork(info, images: 8), TileConfig())
        }
        info.subgroupBallot = false
        XCTAssertEqual(TileConfig.forDevice(info), TileConfig())
        XCTAssertEqual(TileConfig.forWork(info, images: 100_000), TileConfig())
    }
}
