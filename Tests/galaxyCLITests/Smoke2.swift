import XCTest
@testable import GalaxyKit
final class Smoke2Tests: XCTestCase { func testShader() throws { XCTAssertGreaterThan(try ShaderLibrary.spirv(named: "relu_forward").count, 10) } }
