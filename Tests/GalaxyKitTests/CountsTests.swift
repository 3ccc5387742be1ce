import Foundation
import XCTest
@testable import GalaxyKit

/// Vote counts: reading them, simulating them, and their constant-concentration baseline.
final class CountsTests: XCTestCase {
    func assertRejects(_ csv: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try GalaxyLabels.parse(Array(csv.utf8), name: "votes.csv"), file: file, line: line) { error in
            for text in expected { XCTAssertTrue("\(error)".contains(text), "\"\(error)\" lacks \"\(text)\"", file: file, line: line) }
        }
    }

    func testCountsAreReadAndCheckedCellByCell() throws {
        let counts = try GalaxyLabels.parse(Array("GalaxyID,a_x,a_y,b_x,b_y\n1,3,2,,\n2,0,5,4,1\n".utf8), name: "votes.csv")
        XCTAssertEqual(counts.kind, .counts)
        XCTAssertEqual(counts.targets, [3, 2, 0, 0, 0, 5, 4, 1], "an empty cell is 0 votes")
        let fractions = try GalaxyLabels.parse(Array("GalaxyID,A,B\n1,0.25,1\n2,0,0.5\n".utf8), name: "votes.csv")
        XCTAssertEqual(fractions.kind, .fractions)
        XCTAssertEqual(fractions.targets, [0.25, 1, 0, 0.5])
        assertRejects("GalaxyID,A,B\n1,3,2\n2,-1,4\n", ["votes.csv:3", "GalaxyID 2", "column A", "-1 is not a vote count (negative)"])
        assertRejects("GalaxyID,A,B\n1,3,2\n2,1,2.5\n", ["votes.csv:3", "GalaxyID 2", "column B", "2.5 is not a vote count (not a whole number)"])
        assertRejects("GalaxyID,A,B\n1,3,2\n2,1,nan\n", ["votes.csv:3", "GalaxyID 2", "column B", "NaN"])
        assertRejects("GalaxyID,A,B\n1,3,2\n2,x,1\n", ["votes.csv:3", "column A", "\"x\" is not a number"])
        // A fractions file keeps its own checks: an empty cell is still an error there.
        assertRejects("GalaxyID,A,B\n1,0.5,\n", ["votes.csv:2", "column B", "\"\" is not a number"])
        XCTAssertEqual(LabelKind.of([0, 1, 1, 0] as [Float]), .fractions)
        XCTAssertEqual(LabelKind.of([0, 1, 2] as [Float]), .counts)
    }

    /// Every simulated volunteer walks the tree, so each question's counts add up to the count of the answer it
    /// follows, and the questions asked of everyone to the number of volunteers: 5, or 30 to 60.
    func testSynthesizedCountsFollowTheirTree() {
        for schema in [AnswerSchema.kaggle, .decalsDR5] {
            var volunteers: [Int] = []
            for id in 100_000..<100_060 {
                let g = GalaxySynth.latents(seed: 4, galaxyID: id)
                let k = GalaxySynth.counts(seed: 4, galaxyID: id, latents: g, schema: schema)
                XCTAssertEqual(k.count, schema.answerCount)
                let total = schema.questionRanges[0].reduce(0) { $0 + k[$1] }
                volunteers.append(total)
                for (q, range) in schema.questionRanges.enumerated() {
                    let sum = range.reduce(0) { $0 + k[$1] }
                    if let parent = schema.parentColumn[q] {
                        XCTAssertEqual(sum, k[parent], "\(schema.name) galaxy \(id): \(schema.questions[q].id) against its parent answer")
                    } else if schema == .decalsDR5 && schema.questions[q].id == "merging" {
                        XCTAssertEqual(sum, total - k[2], "\(schema.name) galaxy \(id): merging is asked of all but artifacts")
                    } else {
                        XCTAssertEqual(sum, total, "\(schema.name) galaxy \(id): \(schema.questions[q].id) is asked of everyone")
                    }
                }
            }
            XCTAssertTrue(volunteers.allSatisfy { $0 == 5 || (30...60).contains($0) }, "\(volunteers)")
            XCTAssertGreaterThan(volunteers.filter { $0 == 5 }.count, 30, "most galaxies have 5 volunteers")
            XCTAssertGreaterThan(volunteers.filter { $0 > 5 }.count, 3, "some have more")
        }
    }

    /// The fractions synth writes are the counts of the same walk over the number of volunteers (the
    /// refactoring into sampleCounts consumes the random stream as before).
    func testFractionsAreTheCountsOfTheSameWalk() {
        let model = VoteModel(GalaxySynth.latents(seed: 9, galaxyID: 123_456))
        var a = SynthRNG(seed: 9, key: 123_456, stream: 3), b = a
        let fractions = model.sampleVotes(volunteers: 41, rng: &a)
        let counts = model.sampleCounts(volunteers: 41, rng: &b)
        XCTAssertEqual(fractions, counts.map { Float($0) / 41 })
        XCTAssertEqual(a.next(), b.next(), "both consumed the same random numbers")
    }

    /// The fitted constant concentrations maximize the likelihood (within the head's range [1, 100]): moving any
    /// one by 5% either way does not lower the mean NLL. And meanNLL is the per-question NLLs' sum per row.
    func testConstantConcentrationsMaximizeTheLikelihood() {
        let schema = AnswerSchema.decalsDR5, width = schema.answerCount
        let ids = Array(200_000..<200_080)
        var counts: [Float] = []
        for id in ids { counts += GalaxySynth.counts(seed: 2, galaxyID: id, latents: GalaxySynth.latents(seed: 2, galaxyID: id), schema: schema).map(Float.init) }
        let rows = Array(ids.indices), starts = schema.questionStarts
        let alpha = CountStatistics.constantConcentrations(counts: counts, width: width, rows: rows, questionStarts: starts)
        let best = CountStatistics.meanNLL(counts: counts, width: width, rows: rows, questionStarts: starts) { _ in alpha }
        var direct = 0.0
        for r in rows { for q in 0..<(starts.count - 1) {
            let cols = starts[q]..<starts[q + 1]
            direct += Reference.dirichletMultinomialNLL(counts: ArraySlice(cols.map { Double(counts[r * width + $0]) }), alpha: alpha[cols])
        } }
        XCTAssertEqual(best, direct / Double(rows.count), accuracy: 1e-12 * best)
        for c in 0..<width {
            for factor in [0.95, 1.05] {
                var moved = alpha
                moved[c] = min(100, max(1, alpha[c] * factor))
                guard moved[c] != alpha[c] else { continue }
                let nll = CountStatistics.meanNLL(counts: counts, width: width, rows: rows, questionStarts: starts) { _ in moved }
                XCTAssertGreaterThanOrEqual(nll, best - 1e-9 * best, "column \(schema.columnNames[c]) x \(factor)")
            }
        }
        // The head's bias for these concentrations gives them back.
        for (a, b) in zip(alpha, CountStatistics.bias(for: alpha)) where a > 1.2 && a < 99.8 {
            XCTAssertEqual(Reference.concentration(Double(b)), a, accuracy: 1e-5 * a)
        }
    }

    func testSelectingPutsTheColumnsInTheSchemasOrder() throws {
        let schema = try AnswerSchema(name: "t", questions: [.init(id: "a", answers: ["x", "y"]), .init(id: "b", answers: ["p", "q"], after: "a_y")])
        let data = GalaxyDataset(columns: ["b_q", "extra", "a_x", "b_p", "a_y"], ids: [1, 2], targets: [1, 9, 2, 3, 4, 5, 9, 6, 7, 8],
                                 images: [UInt8](repeating: 0, count: 2 * GalaxyDataset.imageBytes))
        let s = try data.selecting(schema, file: "f.csv")
        XCTAssertEqual(s.columns, ["a_x", "a_y", "b_p", "b_q"])
        XCTAssertEqual(s.targets, [2, 4, 3, 1, 6, 8, 7, 5])
        XCTAssertThrowsError(try data.selecting(.decalsDR5, file: "f.csv")) { XCTAssertTrue("\($0)".contains("f.csv: the schema \"decals-dr5\" needs"), "\($0)") }
    }
}

/// Training a Dirichlet head on counts end to end on the device.
final class CountsTrainingTests: GPUTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("galaxy-counts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
        super.tearDown()
    }

    func countsData(_ schema: AnswerSchema, count: Int) throws -> GalaxyDataset {
        let dataDir = dir.appendingPathComponent("data-\(schema.name)")
        _ = try GalaxySynth.write(to: dataDir, options: .init(count: count, seed: 11, counts: schema))
        return try GalaxyCache.loadOrPrepare(DataSource(dataDir: dataDir), strict: true, progress: nil)
    }

    func options(_ schema: AnswerSchema, epochs: Int, lr: Float) -> TrainOptions {
        var o = TrainOptions()
        (o.epochs, o.batch, o.learningRate, o.augment, o.meanOutputBias) = (epochs, 8, lr, false, true)
        o.outputMode = .dirichlet
        o.schema = schema.json
        return o
    }

    /// At lr 0 with --mean-output-bias the head starts at the constant-concentration baseline: the device's test
    /// NLL (the loss shader over the test split) is within 2% of the host's float64 baseline NLL (fc3's random
    /// weights move the concentrations a little), in both trees. Then a short run (3 epochs, DECaLS) lowers the
    /// training NLL, and the checkpoint records the schema and the head.
    func testADirichletHeadStartsAtTheBaselineAndLearns() throws {
        for schema in [AnswerSchema.decalsDR5, .kaggle] {
            let data = try countsData(schema, count: 40)
            let still = try Trainer(context: context, data: data, runDir: dir.appendingPathComponent("lr0-\(schema.name)"),
                                    options: options(schema, epochs: 1, lr: 0), initWeights: nil, resume: false)
            still.log = { _ in }
            XCTAssertEqual(try still.run(), .finished)
            let start = try XCTUnwrap(still.state.metrics.last?.testRMSE), baseline = still.constantMeanBaseline()
            XCTAssertEqual(start, baseline, accuracy: 0.02 * baseline, "\(schema.name): test NLL at lr 0 against the baseline's")
            XCTAssertEqual(still.state.metrics.last?.measure, EpochMetrics.nll)
            guard schema == .decalsDR5 else { continue }

            let t = try Trainer(context: context, data: data, runDir: dir.appendingPathComponent("run-\(schema.name)"),
                                options: options(schema, epochs: 3, lr: 0.02), initWeights: nil, resume: false)
            t.log = { _ in }
            XCTAssertEqual(try t.run(), .finished)
            let m = t.state.metrics
            XCTAssertTrue(m.allSatisfy { $0.trainRMSE.isFinite && $0.testRMSE.isFinite })
            XCTAssertLessThan(m.last!.trainRMSE, m.first!.trainRMSE, "\(schema.name): training NLL per epoch \(m.map(\.trainRMSE))")
            let meta = try SafeTensors.read(t.runDir.appendingPathComponent(Trainer.bestWeights)).metadata
            XCTAssertEqual(meta["output"], "dirichlet")
            XCTAssertEqual(try AnswerSchema(metadata: meta, file: "best"), schema)
            let csv = try String(contentsOf: t.runDir.appendingPathComponent("metrics.csv"), encoding: .utf8)
            XCTAssertTrue(csv.hasPrefix("epoch,train_nll,test_nll,"), csv)
        }
    }

    /// A Dirichlet run stopped after its first step and resumed ends bit for bit where an uninterrupted one does,
    /// with the same NLL figures (the schema and the loss come back from the resumable state).
    func testADirichletRunResumesBitForBit() throws {
        let data = try countsData(.decalsDR5, count: 16)
        var o = options(.decalsDR5, epochs: 2, lr: 0.02)
        o.batch = 6  // 13 train images: 3 steps per epoch, the last partial
        let straight = try Trainer(context: context, data: data, runDir: dir.appendingPathComponent("a"), options: o, initWeights: nil, resume: false)
        straight.log = { _ in }
        XCTAssertEqual(try straight.run(), .finished)
        var calls = 0
        let first = try Trainer(context: context, data: data, runDir: dir.appendingPathComponent("b"), options: o, initWeights: nil, resume: false)
        first.log = { _ in }
        XCTAssertEqual(try first.run { calls += 1; return calls == 1 }, .interrupted)
        var resumed = TrainOptions()  // a resumed run takes its options, schema and loss included, from its state
        resumed.epochs = 2
        let second = try Trainer(context: context, data: data, runDir: dir.appendingPathComponent("b"), options: resumed, initWeights: nil, resume: true)
        second.log = { _ in }
        XCTAssertTrue(second.isDirichlet)
        XCTAssertEqual(try second.run(), .finished)
        let a = try ModelWeights.load(dir.appendingPathComponent("a/last.safetensors")).weights
        let b = try ModelWeights.load(dir.appendingPathComponent("b/last.safetensors")).weights
        for name in a.names { XCTAssertEqual(a[name].map(\.bitPattern), b[name].map(\.bitPattern), "\(name) differs after resume") }
        XCTAssertEqual(straight.state.metrics.map(\.trainRMSE), second.state.metrics.map(\.trainRMSE))
        XCTAssertEqual(straight.state.metrics.map(\.testRMSE), second.state.metrics.map(\.testRMSE))
    }
}
