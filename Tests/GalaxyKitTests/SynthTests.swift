import Foundation
import XCTest
@testable import GalaxyKit

final class SynthTests: XCTestCase {
    private var tempDirs: [URL] = []

    private func tempDir() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("synth-test-\(UUID().uuidString)")
        tempDirs.append(url)
        return url
    }

    override func tearDown() {
        for url in tempDirs { try? FileManager.default.removeItem(at: url) }
        tempDirs = []
    }

    /// Parses the solutions CSV into (ids, rows).
    private func parseCSV(_ text: String) -> (header: String, ids: [Int], rows: [[Float]]) {
        var lines = text.split(separator: "\n").map(String.init)
        let header = lines.removeFirst()
        var ids: [Int] = [], rows: [[Float]] = []
        for line in lines {
            let f = line.split(separator: ",")
            ids.append(Int(f[0])!)
            rows.append(f.dropFirst().map { Float($0)! })
        }
        return (header, ids, rows)
    }

    /// The first `n` candidate IDs whose latents satisfy `keep`.
    private func ids(seed: UInt64, _ n: Int, where keep: (GalaxyLatents) -> Bool) -> [Int] {
        var out: [Int] = []
        var id = 100_000
        while out.count < n && id < 200_000 {
            if keep(GalaxySynth.latents(seed: seed, galaxyID: id)) { out.append(id) }
            id += 1
        }
        return out
    }

    func testGalaxyIDs() throws {
        let (train, test) = try GalaxySynth.galaxyIDs(seed: 4, count: 300, testCount: 100)
        XCTAssertEqual(train.count, 300)
        XCTAssertEqual(test.count, 100)
        XCTAssertEqual(train, train.sorted())
        XCTAssertEqual(test, test.sorted())
        XCTAssertEqual(Set(train + test).count, 400, "IDs must be unique across both splits")
        XCTAssertTrue((train + test).allSatisfy { (100_000...999_999).contains($0) })
        let again = try GalaxySynth.galaxyIDs(seed: 4, count: 300, testCount: 100)
        XCTAssertEqual(again.training, train)
        XCTAssertNotEqual(try GalaxySynth.galaxyIDs(seed: 5, count: 300, testCount: 100).training, train)
    }

    func testSixDecimalFormatting() {
        XCTAssertEqual(GalaxySynth.formatFraction(0), "0.000000")
        XCTAssertEqual(GalaxySynth.formatFraction(1), "1.000000")
        XCTAssertEqual(GalaxySynth.formatFraction(1.0 / 3.0), "0.333333")
        XCTAssertEqual(GalaxySynth.formatFraction(2.0 / 3.0), "0.666667")
        XCTAssertEqual(GalaxySynth.formatFraction(0.05), String(format: "%.6f", Float(0.05)))
    }

    /// 200 galaxies' votes, printed and parsed back, obey the tree.
    func testVotesObeyTreeAfterPrinting() throws {
        let (ids, _) = try GalaxySynth.galaxyIDs(seed: 11, count: 200, testCount: 0)
        var flat: [Float] = []
        for id in ids {
            let g = GalaxySynth.latents(seed: 11, galaxyID: id)
            flat += GalaxySynth.votes(seed: 11, galaxyID: id, latents: g)
        }
        let csv = GalaxySynth.solutionsCSV(ids: ids, votes: flat)
        let (header, parsedIDs, rows) = parseCSV(csv)
        XCTAssertEqual(header, "GalaxyID," + GalaxyZooTree.columnNames.joined(separator: ","))
        XCTAssertEqual(parsedIDs, ids)
        var worst: Float = 0
        for row in rows {
            XCTAssertEqual(row.count, 37)
            XCTAssertTrue(row.allSatisfy { $0 >= 0 && $0 <= 1 })
            XCTAssertEqual(row[0] + row[1] + row[2], 1, accuracy: 1e-5)
            worst = max(worst, GalaxyZooTree.treeSumViolation(row))
        }
        // The votes are counts over the number of volunteers, so every sum holds exactly before
        // printing. Printing rounds each value by at most 5e-7; the longest question (Q8, 7 answers)
        // plus its parent can drift by 8 * 5e-7 = 4e-6, and Float parsing and summing of values
        // <= 1 adds under 1e-6. So 5e-6 bounds the printed violation.
        XCTAssertLessThanOrEqual(worst, 5e-6)
        // Not trivially zero rows: the votes vary.
        XCTAssertGreaterThan(Set(rows.map { $0[0] }).count, 20)
    }

    /// The noise-free expected votes also obey the tree (products of per-node probabilities).
    func testExpectedVotesObeyTree() {
        for id in 100_000..<100_100 {
            let v = VoteModel(GalaxySynth.latents(seed: 3, galaxyID: id)).expectedVotes
            // Float products and sums of <= 7 terms in [0, 1]: error well under 1e-5.
            XCTAssertLessThanOrEqual(GalaxyZooTree.treeSumViolation(v), 1e-5)
        }
    }

    /// The votes follow the latents: stars are voted stars, edge-on discs edge-on, spirals spiral.
    func testVotesFollowLatents() {
        var star: [Float] = [], notStar: [Float] = [], edge: [Float] = [], face: [Float] = []
        var spiral: [Float] = [], plain: [Float] = []
        for id in 100_000..<100_400 {
            let g = GalaxySynth.latents(seed: 8, galaxyID: id)
            let v = GalaxySynth.votes(seed: 8, galaxyID: id, latents: g)
            if g.kind == .starOrArtifact { star.append(v[2]) } else { notStar.append(v[2]) }
            guard g.kind == .featured else { continue }
            // Edge-on fraction among those who called it featured.
            if v[1] > 0.2 {
                if g.isEdgeOn { edge.append(v[3] / v[1]) } else { face.append(v[3] / v[1]) }
            }
            // Spiral fraction among those who reached Q4.
            if !g.isEdgeOn && v[4] > 0.2 {
                if g.armCount > 0 && g.armStrength > 0.6 { spiral.append(v[7] / v[4]) }
                if g.armCount == 0 { plain.append(v[7] / v[4]) }
            }
        }
        func mean(_ x: [Float]) -> Float { x.reduce(0, +) / Float(max(1, x.count)) }
        // Each group has at least a handful of members among 400 draws (8% stars at the rarest).
        for group in [star, notStar, edge, face, spiral, plain] { XCTAssertGreaterThan(group.count, 5) }
        // Margins are wide: the vote model puts >= 0.72 on "star" for stars and <= 0.01 otherwise;
        // edge-on discs have axis ratio <= 0.24 (P(edge) > 0.8), the others >= 0.38 (P(edge) < 0.1).
        XCTAssertGreaterThan(mean(star), 0.6)
        XCTAssertLessThan(mean(notStar), 0.05)
        XCTAssertGreaterThan(mean(edge), 0.6)
        XCTAssertLessThan(mean(face), 0.2)
        XCTAssertGreaterThan(mean(spiral), mean(plain) + 0.3)
    }

    func testWriteIsDeterministicAndDecodable() throws {
        let a = tempDir(), b = tempDir(), c = tempDir()
        let opts = GalaxySynth.Options(count: 3, testCount: 2, seed: 21, quality: 90)
        let sa = try GalaxySynth.write(to: a, options: opts)
        _ = try GalaxySynth.write(to: b, options: opts)
        var other = opts
        other.seed = 22
        _ = try GalaxySynth.write(to: c, options: other)

        let csvA = try String(contentsOf: a.appendingPathComponent(GalaxySynth.solutionsFile), encoding: .utf8)
        let csvB = try String(contentsOf: b.appendingPathComponent(GalaxySynth.solutionsFile), encoding: .utf8)
        let csvC = try String(contentsOf: c.appendingPathComponent(GalaxySynth.solutionsFile), encoding: .utf8)
        XCTAssertEqual(csvA, csvB)
        XCTAssertNotEqual(csvA, csvC)
        let parsed = parseCSV(csvA)
        XCTAssertEqual(parsed.header.split(separator: ",").count, 38)
        XCTAssertTrue(parsed.header.hasPrefix("GalaxyID,Class1.1,Class1.2,Class1.3,Class2.1"))
        XCTAssertEqual(parsed.ids, sa.trainingIDs)
        XCTAssertEqual(parsed.ids, parsed.ids.sorted())
        XCTAssertTrue(csvA.split(separator: "\n")[1].split(separator: ",")[1].split(separator: ".")[1].count == 6)

        for id in sa.trainingIDs.prefix(2) {
            let name = "\(GalaxySynth.trainingDirectory)/\(id).jpg"
            let bytesA = try Data(contentsOf: a.appendingPathComponent(name))
            XCTAssertEqual(bytesA, try Data(contentsOf: b.appendingPathComponent(name)), "same seed, same JPEG bytes")
            let img = try JPEG.decode(contentsOf: a.appendingPathComponent(name))
            XCTAssertEqual(img.width, 424)
            XCTAssertEqual(img.height, 424)
        }
        let testFiles = try FileManager.default.contentsOfDirectory(
            atPath: a.appendingPathComponent(GalaxySynth.testDirectory).path).sorted()
        XCTAssertEqual(testFiles, sa.testIDs.map { "\($0).jpg" })
        XCTAssertTrue(Set(sa.testIDs).isDisjoint(with: sa.trainingIDs))
        // A different seed gives different pixels for the same ID.
        let id = sa.trainingIDs[0]
        let g = GalaxySynth.latents(seed: 22, galaxyID: id)
        XCTAssertNotEqual(GalaxySynth.image(seed: 22, galaxyID: id, latents: g).pixels,
                          try JPEG.decode(contentsOf: a.appendingPathComponent("\(GalaxySynth.trainingDirectory)/\(id).jpg")).pixels)

        // Rewriting an earlier synth output is allowed and leaves no stale images behind.
        let smaller = GalaxySynth.Options(count: 1, testCount: 0, seed: 23)
        let s2 = try GalaxySynth.write(to: a, options: smaller)
        let left = try FileManager.default.contentsOfDirectory(atPath: a.appendingPathComponent(GalaxySynth.trainingDirectory).path)
        XCTAssertEqual(left, ["\(s2.trainingIDs[0]).jpg"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: a.appendingPathComponent(GalaxySynth.testDirectory).path))
    }

    func testRefusesForeignDirectory() throws {
        let d = tempDir()
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: d.appendingPathComponent("notes.txt"))
        XCTAssertThrowsError(try GalaxySynth.write(to: d, options: .init(count: 1))) { error in
            XCTAssertTrue("\(error)".contains("refusing"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d.path), ["notes.txt"])
        XCTAssertThrowsError(try GalaxySynth.write(to: tempDir(), options: .init(count: 0)))
    }

    // MARK: - The latents drive the pixels

    /// Brightness above the sky in the central 207x207 crop, within 80 px of the centre.
    private func centreLight(_ img: RGBImage) -> [(x: Float, y: Float, w: Float)] {
        var out: [(Float, Float, Float)] = []
        for y in 108..<315 {
            for x in 108..<315 {
                let dx = Float(x) - 211.5, dy = Float(y) - 211.5
                if dx * dx + dy * dy > 80 * 80 { continue }
                let i = (y * 424 + x) * 3
                let l = (Float(img.pixels[i]) + Float(img.pixels[i + 1]) + Float(img.pixels[i + 2])) / 3
                // Sky is at most 0.03 * 255 ~ 8 with noise sigma <= 0.022 * 255 ~ 6; 25 is ~3 sigma above.
                let w = max(0, l - 25)
                if w > 0 { out.append((dx, dy, w)) }
            }
        }
        return out
    }

    /// Radius holding half of the light about its centroid.
    private func halfLightRadius(_ img: RGBImage) -> Float {
        let p = centreLight(img)
        let total = p.reduce(0) { $0 + $1.w }
        let mx = p.reduce(0) { $0 + $1.x * $1.w } / total, my = p.reduce(0) { $0 + $1.y * $1.w } / total
        let sorted = p.map { (r: (($0.x - mx) * ($0.x - mx) + ($0.y - my) * ($0.y - my)).squareRoot(), w: $0.w) }
            .sorted { $0.r < $1.r }
        var acc: Float = 0
        for s in sorted {
            acc += s.w
            if acc >= total / 2 { return s.r }
        }
        return sorted.last?.r ?? 0
    }

    /// Minor/major axis ratio from the light's second moments.
    private func momentAxisRatio(_ img: RGBImage) -> Float {
        let p = centreLight(img)
        let total = p.reduce(0) { $0 + $1.w }
        let mx = p.reduce(0) { $0 + $1.x * $1.w } / total, my = p.reduce(0) { $0 + $1.y * $1.w } / total
        var xx: Float = 0, yy: Float = 0, xy: Float = 0
        for q in p {
            let dx = q.x - mx, dy = q.y - my
            xx += q.w * dx * dx; yy += q.w * dy * dy; xy += q.w * dx * dy
        }
        let tr = (xx + yy) / 2, det = ((xx - yy) * (xx - yy) / 4 + xy * xy).squareRoot()
        return ((tr - det) / (tr + det)).squareRoot()
    }

    private func median(_ x: [Float]) -> Float { x.sorted()[x.count / 2] }

    private func render(_ ids: [Int], seed: UInt64) -> [RGBImage] {
        ids.map { GalaxySynth.image(seed: seed, galaxyID: $0, latents: GalaxySynth.latents(seed: seed, galaxyID: $0)) }
    }

    func testStarsAreCompactAndDiscsExtended() {
        let seed: UInt64 = 5
        let stars = ids(seed: seed, 3) { $0.kind == .starOrArtifact && !$0.isArtifact }
        let discs = ids(seed: seed, 3) { $0.kind == .featured && !$0.isEdgeOn && $0.extent > 60 }
        XCTAssertEqual(stars.count, 3); XCTAssertEqual(discs.count, 3)
        let starR = render(stars, seed: seed).map(halfLightRadius)
        let discR = render(discs, seed: seed).map(halfLightRadius)
        // A star's core has sigma <= 2.4 px, but bright stars saturate after the asinh stretch and
        // have a halo and spikes, which takes the half-light radius of the thresholded light to
        // about 6-9 px (measured). A disc with extent > 60 has scale length > 14 px, half-light
        // radius ~1.7 scale lengths (~24-36 px measured). Medians, so that one bright field star
        // near the centre cannot decide the test.
        XCTAssertLessThan(median(starR), 10, "\(starR)")
        XCTAssertGreaterThan(median(discR), 18, "\(discR)")
        XCTAssertGreaterThan(median(discR), 3 * median(starR))
    }

    func testEdgeOnDiscsAreElongated() {
        let seed: UInt64 = 6
        let edge = ids(seed: seed, 3) { $0.kind == .featured && $0.isEdgeOn && $0.oddity == nil }
        let round = ids(seed: seed, 3) { $0.kind == .smooth && $0.axisRatio > 0.85 && $0.oddity == nil }
        XCTAssertEqual(edge.count, 3); XCTAssertEqual(round.count, 3)
        let edgeQ = render(edge, seed: seed).map(momentAxisRatio)
        let roundQ = render(round, seed: seed).map(momentAxisRatio)
        // Edge-on discs have true axis ratio <= 0.24 (a round bulge raises the measured one);
        // round ellipticals >= 0.85 (noise and field stars lower it a little).
        XCTAssertLessThan(median(edgeQ), 0.5, "\(edgeQ)")
        XCTAssertGreaterThan(median(roundQ), 0.7, "\(roundQ)")
    }
}
