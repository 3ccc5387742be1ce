import Foundation
import XCTest
@testable import GalaxyKit

final class DataSplitTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable { let n: Int; let seed: UInt32; let train: [Int]; let test: [Int] }
        struct Large: Decodable {
            let n: Int; let seed: UInt32; let train_count: Int; let test_count: Int
            let train_prefix: [Int]; let test_prefix: [Int]
        }
        let generator: String
        let cases: [Case]
        let large: Large
    }

    func loadFixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: SharedData.fixtures.appendingPathComponent("split_fixture.json")))
    }

    func testMersenneTwisterReferenceOutput() {
        // First outputs of MT19937 seeded by init_genrand(5489), from the authors' reference code
        // (also numpy: RandomState(5489).randint(0, 2**32, dtype=np.uint32)).
        var mt = MersenneTwister(seed: 5489)
        XCTAssertEqual((0..<3).map { _ in mt.next() }, [3_499_211_612, 581_869_302, 3_890_346_734])
    }

    func testMatchesScikitLearnFixture() throws {
        let fixture = try loadFixture()
        XCTAssertEqual(fixture.cases.count, 8)
        for c in fixture.cases {
            let split = trainTestSplit(count: c.n, testFraction: 0.2, seed: c.seed)
            XCTAssertEqual(split.test, c.test, "n=\(c.n) seed=\(c.seed) test (\(fixture.generator))")
            XCTAssertEqual(split.train, c.train, "n=\(c.n) seed=\(c.seed) train")
        }
        print("split fixture: \(fixture.cases.count) cases from \(fixture.generator) match exactly")
    }

    func testFullKaggleSetSizes() throws {
        let large = try loadFixture().large
        let split = trainTestSplit(count: 61578)
        XCTAssertEqual(split.train.count, 49262)
        XCTAssertEqual(split.test.count, 12316)
        XCTAssertEqual(split.train.count, large.train_count)
        XCTAssertEqual(Array(split.train.prefix(20)), large.train_prefix)
        XCTAssertEqual(Array(split.test.prefix(20)), large.test_prefix)
        // A partition of 0..<n.
        XCTAssertEqual(Set(split.train + split.test).count, 61578)
    }
}
