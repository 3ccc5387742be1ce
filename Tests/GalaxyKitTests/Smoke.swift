import XCTest
@testable import GalaxyKit
final class SmokeTests: XCTestCase { func testShader() throws { XCTAssertGreaterThan(try ShaderLibrary.spirv(named: "relu_forward").count, 10) } }
