import XCTest
@testable import GalaxyKit

/// `--checkpoint-every` and `GALAXY_WAIT_TIMEOUT`'s intervals, read as a user writes them and said back.
final class IntervalTests: XCTestCase {
    func testParseReadsEveryUnitAndRejectsTheRest() {
        XCTAssertEqual(Interval.parse("90"), 90)
        XCTAssertEqual(Interval.parse("90s"), 90)
        XCTAssertEqual(Interval.parse(" 15m "), 900)
        XCTAssertEqual(Interval.parse("2H"), 7200)
        XCTAssertEqual(Interval.parse("250ms"), 0.25)
        XCTAssertEqual(Interval.parse("0"), 0)
        for bad in ["", "-1", "5x", "m", "inf", "nan", "1.5.2s"] { XCTAssertNil(Interval.parse(bad), bad) }
    }

    /// The recipe line said "inside an epoch every every step" for `--checkpoint-every 0`.
    func testTheRecipeLineSaysEachIntervalOnce() {
        XCTAssertEqual(Interval.insideAnEpoch(0), "after every step")
        XCTAssertEqual(Interval.insideAnEpoch(900), "every 15m")
        XCTAssertEqual(Interval.insideAnEpoch(7200), "every 2h")
        XCTAssertEqual(Interval.insideAnEpoch(30), "every 30s")
        XCTAssertEqual(Interval.insideAnEpoch(0.25), "every 0.25s")
        for seconds in [0, 0.25, 30, 90, 900, 7200] as [TimeInterval] {
            XCTAssertEqual(Interval.parse(Interval.describe(seconds)), seconds, "\(seconds) s said as \(Interval.describe(seconds))")
        }
    }
}
