/// How simulated volunteers answer the Galaxy Zoo tree for one galaxy.
///
/// For every question the model holds the probabilities of its answers for a volunteer who has
/// reached it, set by the galaxy's latents (clear galaxies get more agreement, ambiguous ones,
/// such as a barely inclined bar or a faint disc, split the vote). `sampleVotes` then lets a few
/// dozen volunteers walk the tree; each answer column is the number of volunteers who gave it over
/// the number of volunteers, so the decision-tree sums hold exactly in the counts.
public struct VoteModel: Sendable {
    /// Per question (Q1...Q11) the answer probabilities at that node; each sums to 1.
    public var answerProbabilities: [[Float]]
    /// The same galaxy's answer probabilities in the GZ DECaLS tree (AnswerSchema.decalsDR5's question order),
    /// derived from the Kaggle ones where the questions match and from the latents where DECaLS asks more:
    /// bar strength (strong, weak, no), five bulge sizes, and merging.
    public var decalsProbabilities: [[Float]] = []

    public init(_ g: GalaxyLatents) {
        let c = g.clarity
        var p = [[Float]](repeating: [], count: 11)

        // Q1: smooth / featured / star. `featuredness` is how strongly the image shows disc
        // structure among those who do not call it a star.
        let pStar: Float
        var featuredness: Float
        switch g.kind {
        case .starOrArtifact:
            pStar = 0.72 + 0.22 * c
            featuredness = g.isArtifact ? 0.5 : 0.2
        case .smooth:
            pStar = 0.01
            featuredness = 0.05 + 0.12 * (1 - c) + (g.axisRatio < 0.45 ? 0.12 : 0)
        case .featured:
            pStar = 0.005
            if g.isEdgeOn {
                featuredness = 0.5 + 0.35 * c
            } else {
                var structure = max(g.armStrength, 0.85 * g.barStrength)
                if g.oddity == .ring { structure = max(structure, 0.6 * g.oddStrength) }
                let bulgePenalty: Float = g.bulge == .dominant ? 0.18 : (g.bulge == .obvious ? 0.06 : 0)
                featuredness = 0.22 + 0.7 * structure * (0.5 + 0.5 * c) - bulgePenalty
            }
        }
        if g.oddity == .irregular || g.oddity == .disturbed || g.oddity == .merger { featuredness += 0.12 * g.oddStrength }
        featuredness = min(0.96, max(0.03, featuredness))
        p[0] = [(1 - pStar) * (1 - featuredness), (1 - pStar) * featuredness, pStar]

        // Q2: edge-on, from the apparent flattening.
        let pEdge = 0.03 + 0.92 * Self.sigmoid((0.3 - g.axisRatio) / 0.045)
        p[1] = [pEdge, 1 - pEdge]

        // Q3: bar.
        let pBar = g.hasBar ? 0.08 + 0.84 * g.barStrength * (0.6 + 0.4 * c) : 0.04 + 0.08 * (1 - c)
        p[2] = [pBar, 1 - pBar]

        // Q4: spiral.
        var pSpiral: Float = g.armCount > 0 ? 0.1 + 0.86 * g.armStrength * (0.55 + 0.45 * c) : 0.07
        if g.armCount == 0 && g.oddity == .ring { pSpiral += 0.12 }
        p[3] = [pSpiral, 1 - pSpiral]

        // Q5: bulge prominence. Smooth galaxies called featured look bulge-dominated.
        p[4] = Self.peaked(truth: g.kind == .featured ? g.bulge.rawValue : 3, count: 4,
                           top: 0.5 + 0.25 * c, neighbourShare: 0.8)

        // Q6: anything odd?
        var pOdd: Float = g.oddity != nil ? 0.3 + 0.6 * g.oddStrength * (0.7 + 0.3 * c) : 0.06
        if g.kind == .starOrArtifact { pOdd += 0.06 }
        p[5] = [pOdd, 1 - pOdd]

        // Q7: roundness, soft bins around axis ratios 0.8 and 0.45.
        let round = Self.sigmoid((g.axisRatio - 0.8) / 0.05)
        let cigar = Self.sigmoid((0.45 - g.axisRatio) / 0.05)
        let between = max(0, 1 - round - cigar)
        p[6] = Self.mix([round, between, cigar], uniformWeight: 0.04 + 0.1 * (1 - c))

        // Q8: which odd feature.
        let background: [Float] = [0.1, 0.08, 0.18, 0.12, 0.32, 0.12, 0.08]
        if let odd = g.oddity {
            let top = 0.5 + 0.35 * g.oddStrength
            var q = background
            q[odd.rawValue] = 0
            let rest = q.reduce(0, +)
            p[7] = q.map { $0 / rest * (1 - top) }
            p[7][odd.rawValue] = top
        } else {
            p[7] = background
        }

        // Q9: bulge shape of an edge-on disc.
        let shape: Int
        if g.isEdgeOn { shape = g.bulgeShape.rawValue } else { shape = g.bulge == .none ? 2 : (g.bulgeShape == .boxy ? 1 : 0) }
        p[8] = Self.peaked(truth: shape, count: 3, top: 0.55 + 0.3 * c, neighbourShare: 0.5)

        // Q10: winding; with no arms to see, a broad guess.
        p[9] = g.armCount > 0
            ? Self.peaked(truth: g.winding.rawValue, count: 3, top: 0.5 + 0.3 * c, neighbourShare: 0.85)
            : [0.3, 0.45, 0.25]

        // Q11: number of arms (1, 2, 3, 4, more, can't tell).
        if g.armCount > 0 {
            let cantTell = 0.06 + 0.3 * (1 - c) * (1.2 - g.armStrength)
            let counted = Self.peaked(truth: min(g.armCount, 5) - 1, count: 5, top: 0.5 + 0.3 * c, neighbourShare: 0.85)
            p[10] = counted.map { $0 * (1 - cantTell) } + [cantTell]
        } else {
            p[10] = [0.1, 0.3, 0.08, 0.04, 0.04, 0.44]
        }
        answerProbabilities = p

        // GZ DECaLS: the bar vote splits into strong and weak by the bar's strength; Kaggle's four bulge levels
        // (none, just noticeable, obvious, dominant) spread over five (dominant, large, moderate, small, none);
        // merging follows the merger and disturbed oddities.
        let pBarD = p[2][0], strong = g.hasBar ? g.barStrength : 0.3
        let bulge = p[4]
        let merging: [Float]
        switch g.oddity {
        case .merger?: merging = [0.15, 0.15, 0.25 + 0.1 * g.oddStrength, 0.45 - 0.1 * g.oddStrength]
        case .disturbed?, .irregular?: merging = [0.45, 0.3 + 0.1 * g.oddStrength, 0.2 - 0.1 * g.oddStrength, 0.05]
        default: merging = [0.86, 0.09, 0.04, 0.01]
        }
        decalsProbabilities = [
            p[0],                                                    // smooth-or-featured
            p[1],                                                    // disk-edge-on
            p[3],                                                    // has-spiral-arms
            [pBarD * strong, pBarD * (1 - strong), 1 - pBarD],       // bar
            [bulge[3], 0.6 * bulge[2], 0.4 * bulge[2] + 0.5 * bulge[1], 0.5 * bulge[1], bulge[0]],  // bulge-size
            p[6],                                                    // how-rounded
            [p[8][1], p[8][2], p[8][0]],                             // edge-on-bulge: boxy, none, rounded
            p[9],                                                    // spiral-winding
            p[10],                                                   // spiral-arm-count
            merging,
        ]
    }

    /// `volunteers` simulated people walk the GZ DECaLS tree: how many gave each of its 34 answers
    /// (AnswerSchema.decalsDR5's columns). Artifacts end the walk before merging, as in DECaLS.
    public func sampleDecalsCounts(volunteers: Int, rng: inout SynthRNG) -> [Int] {
        let schema = AnswerSchema.decalsDR5
        var counts = [Int](repeating: 0, count: schema.answerCount)
        let a = decalsProbabilities
        func ask(_ q: Int) -> Int {
            let i = rng.pick(a[q])
            counts[schema.questionRanges[q].lowerBound + i] += 1
            return i
        }
        for _ in 0..<volunteers {
            switch ask(0) {
            case 0:
                _ = ask(5)
            case 1:
                if ask(1) == 0 {
                    _ = ask(6)
                } else {
                    if ask(2) == 0 { _ = ask(7); _ = ask(8) }
                    _ = ask(3)
                    _ = ask(4)
                }
            default:
                continue
            }
            _ = ask(9)
        }
        return counts
    }

    /// The vote fractions that infinitely many volunteers would give (products down the tree).
    public var expectedVotes: [Float] {
        var v = [Float](repeating: 0, count: GalaxyZooTree.answerCount)
        let reach = reachProbabilities
        for (q, range) in GalaxyZooTree.questionRanges.enumerated() {
            for (i, col) in range.enumerated() { v[col] = reach[q] * answerProbabilities[q][i] }
        }
        return v
    }

    /// Probability that a volunteer reaches each question.
    private var reachProbabilities: [Float] {
        let a = answerProbabilities
        var r = [Float](repeating: 0, count: 11)
        r[0] = 1; r[5] = 1
        r[1] = a[0][1]
        r[2] = r[1] * a[1][1]; r[3] = r[2]; r[4] = r[2]
        r[6] = a[0][0]
        r[7] = a[5][0]
        r[8] = r[1] * a[1][0]
        r[9] = r[3] * a[3][0]; r[10] = r[9]
        return r
    }

    /// `volunteers` simulated people walk the tree; returns the 37 vote fractions.
    public func sampleVotes(volunteers: Int, rng: inout SynthRNG) -> [Float] {
        let n = Float(volunteers)
        return sampleCounts(volunteers: volunteers, rng: &rng).map { Float($0) / n }
    }

    /// `volunteers` simulated people walk the Kaggle tree; returns how many gave each of the 37 answers.
    public func sampleCounts(volunteers: Int, rng: inout SynthRNG) -> [Int] {
        var counts = [Int](repeating: 0, count: GalaxyZooTree.answerCount)
        let a = answerProbabilities
        let first = GalaxyZooTree.questionRanges.map(\.lowerBound)
        func ask(_ q: Int) -> Int {
            let i = rng.pick(a[q])
            counts[first[q] + i] += 1
            return i
        }
        for _ in 0..<volunteers {
            switch ask(0) {
            case 0:
                _ = ask(6)
            case 1:
                if ask(1) == 0 {
                    _ = ask(8)
                } else {
                    _ = ask(2)
                    if ask(3) == 0 { _ = ask(9); _ = ask(10) }
                    _ = ask(4)
                }
            default:
                break
            }
            if ask(5) == 0 { _ = ask(7) }
        }
        return counts
    }

    static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf32(-x)) }

    /// A distribution over `count` ordered answers with `top` on the true one; of the rest,
    /// `neighbourShare` goes to the answers next to it and the remainder spreads evenly.
    static func peaked(truth: Int, count: Int, top: Float, neighbourShare: Float) -> [Float] {
        var p = [Float](repeating: 0, count: count)
        let neighbours = [truth - 1, truth + 1].filter { $0 >= 0 && $0 < count }
        let others = (0..<count).filter { $0 != truth && !neighbours.contains($0) }
        let rest = 1 - top
        let toNeighbours = others.isEmpty ? rest : rest * neighbourShare
        p[truth] = top
        for i in neighbours { p[i] = toNeighbours / Float(neighbours.count) }
        for i in others { p[i] = (rest - toNeighbours) / Float(others.count) }
        return p
    }

    /// Blends a distribution with the uniform one and renormalizes.
    static func mix(_ p: [Float], uniformWeight w: Float) -> [Float] {
        let s = p.reduce(0, +)
        return p.map { (1 - w) * $0 / s + w / Float(p.count) }
    }
}
