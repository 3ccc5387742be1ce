import XCTest
@testable import GalaxyKit

/// The subgroup-free builds that the portable tiles load: no subgroup capability in their SPIR-V, so a
/// device without subgroup operations creates them; the SHARE builds keep theirs.
final class ShaderLibraryTests: XCTestCase {
    static let gemmShaped = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
                             "linear_forward", "linear_backward_input", "linear_backward_weight", "sgemm"]

    /// The operands of every OpCapability instruction (opcode 17) of a SPIR-V module.
    static func capabilities(_ words: [UInt32]) -> Set<UInt32> { SubgroupCapability.declaredCapabilities(words) }

    /// SPIR-V's GroupNonUniform capabilities: 61 (GroupNonUniform) to 68 (GroupNonUniformQuad).
    static let subgroupCapabilities = Set(SubgroupCapability.all.map(\.capability))

    func testPortableBuildsDeclareNoSubgroupCapability() throws {
        for name in Self.gemmShaped {
            let share = Self.capabilities(try ShaderLibrary.spirv(named: name))
            let free = Self.capabilities(try ShaderLibrary.spirv(named: Kernels.subgroupFree(name)))
            XCTAssertTrue(share.contains(64), "\(name).spv lost GroupNonUniformBallot: \(share.sorted())")
            XCTAssertTrue(free.isDisjoint(with: Self.subgroupCapabilities), "\(Kernels.subgroupFree(name)).spv declares \(free.sorted())")
            XCTAssertTrue(free.contains(1), "\(name): no Shader capability, not a SPIR-V compute module")
        }
    }

    /// The kernel path follows what the device reports, not its name: a GPU (any type but CPU) gets the
    /// shared-memory tiles; a CPU driver the subgroup-share path only with 8-lane subgroups and
    /// subgroupBroadcast in compute shaders, else the portable path.
    func testThePathFollowsTheDevicesCapabilities() {
        var info = DeviceInfo(index: 0, name: "cpu", type: "CPU", typeRank: 3, memoryBytes: 0, subgroupSize: 8, apiVersion: "1.3")
        XCTAssertEqual(KernelPath.forDevice(info), .subgroupShare())
        if ProcessInfo.processInfo.environment["GALAXY_TILES"] == nil {
            // lavapipe's jobs: the share path, long or short; the portable one for a few images' inference.
            XCTAssertEqual(KernelPath.forWork(info, images: 10_000_000, training: true), .subgroupShare())
            XCTAssertEqual(KernelPath.forWork(info, images: 100_000), .subgroupShare())
            XCTAssertEqual(KernelPath.forWork(info, images: 8), .portable())
        }
        info.subgroupBallot = false
        XCTAssertEqual(KernelPath.forDevice(info), .portable())
        XCTAssertEqual(KernelPath.forWork(info, images: 100_000), .portable())
        for lanes: UInt32 in [4, 16, 32] {
            var other = DeviceInfo(index: 0, name: "llvmpipe", type: "CPU", typeRank: 3, memoryBytes: 0, subgroupSize: lanes, apiVersion: "1.3")
            XCTAssertEqual(KernelPath.forDevice(other), .portable(), "a CPU driver with \(lanes)-lane subgroups")
            other.subgroupBallot = true
            XCTAssertEqual(KernelPath.forWork(other, images: 100_000, training: true), .portable())
        }
        for (type, rank) in [("discrete GPU", 0), ("integrated GPU", 1), ("virtual GPU", 2)] {
            let gpu = DeviceInfo(index: 0, name: "llvmpipe", type: type, typeRank: rank, memoryBytes: 0, subgroupSize: 8, apiVersion: "1.3")
            XCTAssertEqual(KernelPath.forDevice(gpu), .sharedMemory(), type)
            XCTAssertEqual(KernelPath.forWork(gpu, images: 1), .sharedMemory(), "\(type): whatever the job")
        }
    }

    /// GALAXY_TILES picks the path on a CPU driver whatever the job: quick and narrow the share path (its default or its
    /// narrowest blocks) where the device has it, else the portable path; portable; gpu the shared-memory tiles.
    func testTheTilesSettingPicksThePathOnACPUDriver() {
        var info = DeviceInfo(index: 0, name: "cpu", type: "CPU", typeRank: 3, memoryBytes: 0, subgroupSize: 8, apiVersion: "1.3")
        for (setting, shared, unshared): (String, KernelPath, KernelPath) in [("quick", .subgroupShare(), .portable()),
                                                                              ("narrow", .subgroupShare(.narrow), .portable()),
                                                                              ("portable", .portable(), .portable()),
                                                                              ("gpu", .sharedMemory(), .sharedMemory())] {
            let restore = setEnvironment(["GALAXY_TILES": setting])
            defer { restore() }  // at the end of each pass of the loop
            info.subgroupBallot = true
            XCTAssertEqual(KernelPath.forWork(info, images: 8), shared, setting)
            XCTAssertEqual(KernelPath.forWork(info, images: 100_000, training: true), shared, setting)
            info.subgroupBallot = false
            XCTAssertEqual(KernelPath.forWork(info, images: 100_000, training: true), unshared, "\(setting) without the share path")
        }
        XCTAssertNotEqual(SubgroupShareTiles.narrow, SubgroupShareTiles(), "narrow is not another name for the default blocks")
    }
}
