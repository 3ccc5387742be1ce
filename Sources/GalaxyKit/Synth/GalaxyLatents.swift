/// The hidden morphology of one synthetic galaxy. The renderer draws pixels from it and the vote
/// model derives the 37 answer fractions from it, so a network can only predict the votes by
/// reading the morphology off the pixels.
public struct GalaxyLatents: Equatable, Sendable {
    public enum Kind: Int, Sendable, CaseIterable { case smooth, featured, starOrArtifact }
    public enum Bulge: Int, Sendable, CaseIterable { case none, justNoticeable, obvious, dominant }
    public enum BulgeShape: Int, Sendable, CaseIterable { case rounded, boxy, none }
    public enum Winding: Int, Sendable, CaseIterable { case tight, medium, loose }
    /// Order and meaning of the Q8 answers.
    public enum Oddity: Int, Sendable, CaseIterable { case ring, lensOrArc, disturbed, irregular, other, merger, dustLane }

    public var kind: Kind
    /// For `.starOrArtifact`: an artifact (satellite trail) rather than a star.
    public var isArtifact = false

    // Geometry shared by all kinds (pixels of the 424x424 image, radians).
    /// Radius out to which the galaxy stands out of the sky, 424-pixel units.
    public var extent: Float
    /// Offset of the centre from (212, 212).
    public var offsetX: Float, offsetY: Float
    /// Position angle of the major axis.
    public var positionAngle: Float
    /// Apparent minor/major axis ratio of the main body (disc for featured, whole body for smooth).
    public var axisRatio: Float
    /// Overall surface-brightness multiplier (about 0.6...1.6).
    public var brightness: Float
    /// How clearly details can be seen, 0...1: grows with size and brightness. Volunteers agree
    /// more on clear galaxies.
    public var clarity: Float

    // Discs.
    public var isEdgeOn = false
    public var hasBar = false
    /// 0 when there is no bar; 0.35...1 otherwise.
    public var barStrength: Float = 0
    /// Bar half-length in disc scale lengths, and its angle in the disc plane.
    public var barLength: Float = 0
    public var barAngle: Float = 0
    /// 0 = no spiral arms; otherwise 1...6 (5 and 6 count as "more than four").
    public var armCount = 0
    public var winding: Winding = .medium
    /// Pitch angle of the logarithmic arms (radians), set by `winding`.
    public var pitch: Float = 0.35
    /// 0 without arms, 0.35...1 with.
    public var armStrength: Float = 0
    public var armPhase: Float = 0
    public var bulge: Bulge = .none
    public var bulgeShape: BulgeShape = .none

    // Odd features.
    public var oddity: Oddity? = nil
    /// How striking the odd feature is, 0.4...1 (0 without one).
    public var oddStrength: Float = 0

    /// The answer index of Q7 (completely round / in between / cigar) that the apparent axis
    /// ratio falls in, the thresholds the vote model centres its soft boundaries on.
    public var roundnessClass: Int { axisRatio >= 0.8 ? 0 : (axisRatio > 0.45 ? 1 : 2) }

    /// Draws the latents of one galaxy.
    public static func sample(_ rng: inout SynthRNG) -> GalaxyLatents {
        let kind = Kind(rawValue: rng.pick([0.44, 0.48, 0.08]))!
        let extent = rng.logUniform(42, 100)
        let brightness = rng.logUniform(0.6, 1.6)
        let sizeTerm = (extent - 42) / 58
        let brightTerm = (brightness - 0.6) / 1.0
        let clarity = min(1, max(0, 0.2 + 0.5 * sizeTerm + 0.3 * brightTerm + 0.1 * rng.normal()))
        var g = GalaxyLatents(
            kind: kind, extent: extent,
            offsetX: rng.normal() * 3, offsetY: rng.normal() * 3,
            positionAngle: rng.uniform(0, .pi), axisRatio: 1,
            brightness: brightness, clarity: clarity)

        switch kind {
        case .starOrArtifact:
            g.isArtifact = rng.chance(0.3)
            g.extent = rng.uniform(6, 14)
            g.axisRatio = 1
            return g
        case .smooth:
            switch rng.pick([0.4, 0.45, 0.15]) {
            case 0: g.axisRatio = rng.uniform(0.82, 1)
            case 1: g.axisRatio = rng.uniform(0.5, 0.78)
            default: g.axisRatio = rng.uniform(0.22, 0.43)
            }
            g.bulge = .dominant
            g.bulgeShape = .rounded
        case .featured:
            g.isEdgeOn = rng.chance(0.22)
            if g.isEdgeOn {
                g.axisRatio = rng.uniform(0.11, 0.24)
                g.bulgeShape = BulgeShape(rawValue: rng.pick([0.45, 0.2, 0.35]))!
                g.bulge = g.bulgeShape == .none ? .none : (rng.chance(0.5) ? .obvious : .justNoticeable)
            } else {
                // Roughly isotropic inclinations, cut before the disc looks edge-on.
                g.axisRatio = 0.38 + 0.62 * powf32(rng.uniform(), 0.7)
                g.bulge = Bulge(rawValue: rng.pick([0.2, 0.35, 0.33, 0.12]))!
                g.bulgeShape = g.bulge == .none ? .none : (rng.chance(0.8) ? .rounded : .boxy)
                if rng.chance(0.4) {
                    g.hasBar = true
                    g.barStrength = rng.uniform(0.35, 1)
                    g.barLength = rng.uniform(1.1, 2.0)
                    g.barAngle = rng.uniform(0, .pi)
                }
                if rng.chance(0.75) {
                    g.armCount = [1, 2, 3, 4, 5, 6][rng.pick([0.06, 0.45, 0.2, 0.12, 0.1, 0.07])]
                    g.winding = Winding(rawValue: rng.pick([0.3, 0.4, 0.3]))!
                    let degrees: Float
                    switch g.winding {
                    case .tight: degrees = rng.uniform(9, 13)
                    case .medium: degrees = rng.uniform(17, 23)
                    case .loose: degrees = rng.uniform(29, 38)
                    }
                    g.pitch = degrees * .pi / 180
                    g.armStrength = rng.uniform(0.35, 1)
                    g.armPhase = rng.uniform(0, 2 * .pi)
                }
            }
        }

        if rng.chance(0.2) {
            var weights: [Float] = [0.17, 0.08, 0.17, 0.12, 0.16, 0.2, 0.1]
            if kind == .smooth { weights[Oddity.dustLane.rawValue] = 0; weights[Oddity.irregular.rawValue] = 0.04 }
            if g.isEdgeOn { weights[Oddity.dustLane.rawValue] = 0.6; weights[Oddity.ring.rawValue] = 0 }
            g.oddity = Oddity(rawValue: rng.pick(weights))!
            g.oddStrength = rng.uniform(0.4, 1)
            if g.oddity == .dustLane && g.isEdgeOn {
                // A lane shows only against a thick enough disc with some bulge light behind it.
                g.axisRatio = max(g.axisRatio, rng.uniform(0.17, 0.24))
                if g.bulgeShape == .none { g.bulgeShape = .rounded; g.bulge = .justNoticeable }
            }
            if g.oddity == .irregular {
                // Irregulars have no orderly structure of their own.
                g.armCount = 0; g.armStrength = 0; g.hasBar = false; g.barStrength = 0
            }
        }
        return g
    }
}
