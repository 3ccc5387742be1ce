#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Draws a 424x424 SDSS-like cutout of a galaxy from its latents.
///
/// Light is accumulated in linear flux per RGB channel: the main body from analytic profiles
/// evaluated per pixel inside a bounding box (Sersic-like smooth bodies and bulges, exponential
/// discs, logarithmic spiral arms, bars, rings, arcs, dust lanes, merging companions), then point-
/// like pieces splatted as small Gaussians (background stars, star-forming knots, clumps, tidal
/// tails). An asinh stretch like the SDSS colour composites maps flux to display values with the
/// colour ratios kept, and sky level plus signal-dependent noise is added before quantizing.
/// Nuisance details (knot positions, background stars, noise) come from `rng`; everything a
/// volunteer would vote on comes from the latents.
public enum GalaxyRenderer {
    public static let size = 424

    struct Colour { var r: Float, g: Float, b: Float
        static func * (c: Colour, s: Float) -> Colour { Colour(r: c.r * s, g: c.g * s, b: c.b * s) }
    }

    static let oldStars = Colour(r: 1.0, g: 0.80, b: 0.58)
    static let barLight = Colour(r: 1.0, g: 0.86, b: 0.68)
    static let discLight = Colour(r: 0.9, g: 0.86, b: 0.86)
    static let youngStars = Colour(r: 0.58, g: 0.74, b: 1.0)

    /// Parameters of the per-pixel body model, precomputed once per galaxy.
    struct Body {
        var cx: Float = 212, cy: Float = 212
        var cosPA: Float = 1, sinPA: Float = 0
        var q: Float = 1
        // Smooth body or bulge: I = amp * exp(-k * sqrt(r / scale)).
        var spheroidAmp: Float = 0, spheroidScale: Float = 1, spheroidK: Float = 2, spheroidQ: Float = 1
        var boxy = false
        var spheroidColour = oldStars
        // Disc.
        var discAmp: Float = 0, discScale: Float = 1
        var discColour = discLight
        // Arms.
        var arms: Float = 0, armAmp: Float = 0, invTanPitch: Float = 1, armPhase: Float = 0, armStart: Float = 1
        var armColour = youngStars
        // Bar.
        var barAmp: Float = 0, barCos: Float = 1, barSin: Float = 0, barInvL: Float = 1, barInvW: Float = 1
        var barColour = barLight
        // Ring (disc plane).
        var ringAmp: Float = 0, ringRadius: Float = 0, ringInvW: Float = 1
        // Dust lane along the major axis: attenuation depth, 1/width.
        var dustDepth: Float = 0, dustInvW: Float = 1, dustInvLength: Float = 0
        // Lensed arc, in sky coordinates about the centre.
        var arcAmp: Float = 0, arcRadius: Float = 0, arcInvW: Float = 1, arcAngle: Float = 0, arcInvHalf: Float = 1
        // Lopsidedness: offset of the outer isophotes, pixels at r = lopsidedRadius.
        var lopX: Float = 0, lopY: Float = 0, lopInvR2: Float = 0
        // Companion (merger): a smooth body.
        var compAmp: Float = 0, compX: Float = 0, compY: Float = 0, compScale: Float = 1, compQ: Float = 1
        var compCos: Float = 1, compSin: Float = 0

        /// Flux at pixel centre (x, y).
        @inline(__always)
        func flux(_ x: Float, _ y: Float) -> Colour {
            var dx = x - cx, dy = y - cy
            if lopInvR2 > 0 {
                let t = min(1, (dx * dx + dy * dy) * lopInvR2)
                dx -= lopX * t; dy -= lopY * t
            }
            let u = dx * cosPA + dy * sinPA
            let v = -dx * sinPA + dy * cosPA
            var out = Colour(r: 0, g: 0, b: 0)
            var attenuated = Colour(r: 0, g: 0, b: 0)

            if spheroidAmp > 0 {
                let w = v / spheroidQ
                var r: Float
                if boxy {
                    let u2 = u * u, w2 = w * w
                    r = (u2 * u2 + w2 * w2 + 1).squareRoot().squareRoot()
                } else {
                    r = (u * u + w * w + 0.5).squareRoot()
                }
                r = (r / spheroidScale).squareRoot()
                let f = spheroidAmp * expf32(-spheroidK * r)
                attenuated.r += f * spheroidColour.r; attenuated.g += f * spheroidColour.g; attenuated.b += f * spheroidColour.b
            }
            if discAmp > 0 {
                let yd = v / q
                let rd2 = u * u + yd * yd
                let rd = (rd2 + 0.25).squareRoot()
                let d = expf32(-rd / discScale)
                var base = discAmp * d
                if d > 0.003 {
                    if armAmp > 0 {
                        let rn = rd / discScale
                        let w = min(1, max(0, (rn - 0.7 * armStart) / (0.6 * armStart)))
                        if w > 0 {
                            let theta = atan2f32(yd, u)
                            let psi = arms * (theta - logf32(rn) * invTanPitch) + armPhase
                            let c = 0.5 + 0.5 * cosf32(psi)
                            let s = armAmp * w
                            let armLight = discAmp * d * s * 2.4 * c * c * c
                            base *= (1 - 0.6 * s)
                            out.r += armLight * armColour.r; out.g += armLight * armColour.g; out.b += armLight * armColour.b
                        }
                    }
                    if barAmp > 0 {
                        let bu = (u * barCos + yd * barSin) * barInvL
                        let bv = (-u * barSin + yd * barCos) * barInvW
                        let bu2 = bu * bu
                        let e = bu2 * bu2 + bv * bv
                        if e < 12 {
                            let f = barAmp * expf32(-e)
                            attenuated.r += f * barColour.r; attenuated.g += f * barColour.g; attenuated.b += f * barColour.b
                        }
                    }
                }
                attenuated.r += base * discColour.r; attenuated.g += base * discColour.g; attenuated.b += base * discColour.b
                if ringAmp > 0 {
                    let t = (rd - ringRadius) * ringInvW
                    if t * t < 16 {
                        let f = ringAmp * expf32(-t * t)
                        out.r += f * youngStars.r; out.g += f * youngStars.g; out.b += f * youngStars.b
                    }
                }
            }
            if dustDepth > 0 {
                let t = v * dustInvW
                let along = u * dustInvLength
                if t * t < 9 && along * along < 1 {
                    let a = 1 - dustDepth * expf32(-t * t) * (1 - along * along)
                    attenuated = attenuated * a
                    out = out * a
                }
            }
            out.r += attenuated.r; out.g += attenuated.g; out.b += attenuated.b
            if arcAmp > 0 {
                let r = (dx * dx + dy * dy).squareRoot()
                let t = (r - arcRadius) * arcInvW
                if t * t < 16 {
                    var a = atan2f32(dy, dx) - arcAngle
                    if a > .pi { a -= 2 * .pi } else if a < -.pi { a += 2 * .pi }
                    let s = a * arcInvHalf
                    let f = arcAmp * expf32(-t * t - s * s * s * s)
                    out.r += f * youngStars.r; out.g += f * youngStars.g; out.b += f * youngStars.b
                }
            }
            if compAmp > 0 {
                let ex = x - compX, ey = y - compY
                let cu = ex * compCos + ey * compSin
                let cv = (-ex * compSin + ey * compCos) / compQ
                let r = ((cu * cu + cv * cv + 0.5).squareRoot() / compScale).squareRoot()
                let f = compAmp * expf32(-2 * r)
                out.r += f * oldStars.r; out.g += f * oldStars.g; out.b += f * oldStars.b
            }
            return out
        }
    }

    /// Renders the galaxy; `rng` supplies the nuisance details and noise.
    public static func render(_ g: GalaxyLatents, rng: inout SynthRNG) -> RGBImage {
        let n = size
        var flux = [Float](repeating: 0, count: n * n * 3)
        let tint = Colour(r: 1 + 0.05 * rng.normal(), g: 1, b: 1 + 0.05 * rng.normal())
        var body = Body()
        body.cx = Float(n) / 2 + g.offsetX
        body.cy = Float(n) / 2 + g.offsetY
        body.cosPA = cosf32(g.positionAngle); body.sinPA = sinf32(g.positionAngle)
        body.q = g.axisRatio
        body.spheroidColour = Colour(r: oldStars.r * tint.r, g: oldStars.g, b: oldStars.b * tint.b)
        var boxRadius = g.extent * 1.8

        switch g.kind {
        case .starOrArtifact:
            if g.isArtifact {
                addTrail(&flux, through: (body.cx, body.cy), angle: g.positionAngle, rng: &rng)
                // Often something faint sits under the trail.
                if rng.chance(0.5) {
                    addGaussian(&flux, x: body.cx, y: body.cy, sigma: rng.uniform(1.5, 3), amp: rng.uniform(0.1, 0.5),
                                colour: Colour(r: 1, g: 0.9, b: 0.8))
                }
            } else {
                addStar(&flux, x: body.cx, y: body.cy, amp: 3 * g.brightness, sigma: rng.uniform(1.7, 2.4),
                        colour: starColour(&rng), spikes: true, spikeAngle: rng.uniform(-0.1, 0.1))
            }
            boxRadius = 0
        case .smooth:
            let re = g.extent / 2.3
            body.spheroidAmp = 0.05 * g.brightness * expf32(3.67)
            body.spheroidScale = re
            body.spheroidK = 3.67
            body.spheroidQ = g.axisRatio
        case .featured:
            let h = g.extent / 4.2
            let i0 = 0.5 * g.brightness / max(0.45, g.axisRatio.squareRoot())
            body.discAmp = i0
            body.discScale = h
            body.discColour = Colour(r: discLight.r * tint.r, g: discLight.g, b: discLight.b * tint.b)
            switch g.bulge {
            case .none: break
            case .justNoticeable: body.spheroidAmp = 1.8 * i0; body.spheroidScale = 0.22 * h
            case .obvious: body.spheroidAmp = 5 * i0; body.spheroidScale = 0.38 * h
            case .dominant: body.spheroidAmp = 12 * i0; body.spheroidScale = 0.65 * h
            }
            body.spheroidK = 2.5
            body.boxy = g.bulgeShape == .boxy
            body.spheroidQ = g.isEdgeOn ? (body.boxy ? 0.75 : 0.6) : max(g.axisRatio, 0.75)
            if g.isEdgeOn && g.bulgeShape == .none { body.spheroidAmp = 0 }
            if g.hasBar {
                let length = g.barLength * h
                body.barAmp = i0 * (0.8 + 1.4 * g.barStrength)
                body.barCos = cosf32(g.barAngle); body.barSin = sinf32(g.barAngle)
                body.barInvL = 1 / length
                body.barInvW = 1 / max(2.2, 0.26 * length)
            }
            if g.armCount > 0 {
                body.arms = Float(g.armCount)
                body.armAmp = g.armStrength
                body.invTanPitch = 1 / tanf(g.pitch)
                body.armStart = g.hasBar ? g.barLength : 0.8
                // With a bar, start the arms at its ends: crest of the pattern at the bar angle.
                body.armPhase = g.hasBar
                    ? -body.arms * (g.barAngle - logf32(g.barLength) * body.invTanPitch)
                    : g.armPhase
            }
            // Knots of star formation along the arms.
            if g.armCount > 0 {
                let knots = Int(Float(g.armCount) * 5 * g.armStrength)
                for _ in 0..<knots {
                    let rn = rng.uniform(max(1, body.armStart), 3.6)
                    let arm = Float(rng.int(0, g.armCount - 1))
                    // Crest: arms * (theta - ln(rn) * invTan) + phase = 2 pi k.
                    let theta = (2 * .pi * arm - body.armPhase) / body.arms + logf32(rn) * body.invTanPitch + rng.normal() * 0.08
                    let xd = rn * h * cosf32(theta), yd = rn * h * sinf32(theta)
                    let (x, y) = body.toImage(u: xd, v: yd * g.axisRatio)
                    addGaussian(&flux, x: x, y: y, sigma: rng.uniform(1.4, 2.4),
                                amp: i0 * rng.uniform(0.3, 1.0) * expf32(-rn / 2.5), colour: youngStars)
                }
            }
        }

        if let odd = g.oddity, g.kind != .starOrArtifact {
            let s = g.oddStrength
            let scale = g.kind == .featured ? g.extent / 4.2 : g.extent / 2.6
            switch odd {
            case .ring:
                if body.discAmp == 0 {
                    // A ring around a smooth body: give it a faint disc plane to live in.
                    body.discAmp = 0.02 * g.brightness; body.discScale = g.extent / 4.2
                }
                body.ringRadius = rng.uniform(2.2, 3.0) * (g.kind == .featured ? scale : g.extent / 4.2)
                body.ringInvW = 1 / max(3.5, 0.3 * body.discScale)
                body.ringAmp = 0.25 * s * g.brightness
            case .lensOrArc:
                body.arcRadius = g.extent * rng.uniform(0.75, 1.05)
                body.arcInvW = 1 / rng.uniform(2.2, 3.2)
                body.arcAngle = rng.uniform(-.pi, .pi)
                body.arcInvHalf = 1 / rng.uniform(0.35, 0.7)
                body.arcAmp = 0.5 * s
                boxRadius = max(boxRadius, body.arcRadius + 14)
            case .disturbed:
                let a = rng.uniform(0, 2 * .pi)
                body.lopX = 0.25 * s * g.extent * cosf32(a); body.lopY = 0.25 * s * g.extent * sinf32(a)
                body.lopInvR2 = 1 / (g.extent * g.extent)
                addTail(&flux, from: (body.cx, body.cy), start: 0.6 * g.extent, length: g.extent * rng.uniform(0.6, 1.1),
                        angle: a, curl: rng.uniform(-1, 1), amp: 0.035 * s * g.brightness, rng: &rng)
            case .irregular:
                body.discAmp *= 0.4
                body.spheroidAmp *= 0.3
                let a = rng.uniform(0, 2 * .pi)
                body.lopX = 0.2 * g.extent * cosf32(a); body.lopY = 0.2 * g.extent * sinf32(a)
                body.lopInvR2 = 1 / (g.extent * g.extent)
                for _ in 0..<rng.int(8, 18) {
                    let r = g.extent * 0.6 * rng.uniform().squareRoot()
                    let t = rng.uniform(0, 2 * .pi)
                    addGaussian(&flux, x: body.cx + r * cosf32(t), y: body.cy + r * sinf32(t),
                                sigma: rng.uniform(2.0, 5.0), amp: s * g.brightness * rng.uniform(0.1, 0.5),
                                colour: rng.chance(0.7) ? youngStars : discLight)
                }
            case .other:
                let r = g.extent * rng.uniform(0.25, 0.8)
                let t = rng.uniform(0, 2 * .pi)
                addStar(&flux, x: body.cx + r * cosf32(t), y: body.cy + r * sinf32(t), amp: 1.5 * s,
                        sigma: rng.uniform(1.6, 2.2), colour: starColour(&rng), spikes: true, spikeAngle: rng.uniform(-0.1, 0.1))
            case .merger:
                let d = g.extent * rng.uniform(0.45, 0.85)
                let t = rng.uniform(0, 2 * .pi)
                body.compX = body.cx + d * cosf32(t); body.compY = body.cy + d * sinf32(t)
                body.compScale = scale * rng.uniform(0.3, 0.5)
                body.compAmp = 0.05 * g.brightness * expf32(3.67) * rng.uniform(0.35, 0.7)
                body.compQ = rng.uniform(0.5, 1)
                let ca = rng.uniform(0, .pi)
                body.compCos = cosf32(ca); body.compSin = sinf32(ca)
                let curl: Float = rng.chance(0.5) ? 1 : -1
                addTail(&flux, from: (body.cx, body.cy), start: 0.5 * g.extent, length: g.extent * rng.uniform(0.7, 1.2),
                        angle: t + .pi + 0.6 * curl, curl: curl, amp: 0.035 * s * g.brightness, rng: &rng)
                addTail(&flux, from: (body.compX, body.compY), start: 0.3 * g.extent, length: g.extent * rng.uniform(0.4, 0.8),
                        angle: t - 0.5 * curl, curl: -curl, amp: 0.03 * s * g.brightness, rng: &rng)
                boxRadius = max(boxRadius, d + g.extent)
            case .dustLane:
                body.dustDepth = 0.55 + 0.4 * s
                let thickness = g.extent / 4.2 * max(g.axisRatio, 0.15)
                body.dustInvW = 1 / max(2.5, 0.6 * thickness)
                body.dustInvLength = 1 / (g.extent * 0.9)
            }
        }

        if boxRadius > 0 { evaluate(body, into: &flux, radius: max(boxRadius, body.reach(threshold: 0.0015))) }
        addBackgroundSources(&flux, rng: &rng)
        return finish(flux, rng: &rng)
    }

    /// Adds the body model inside the box of half-side `radius` about its centre.
    static func evaluate(_ body: Body, into flux: inout [Float], radius: Float) {
        let n = size
        let x0 = max(0, Int(body.cx - radius)), x1 = min(n - 1, Int(body.cx + radius))
        let y0 = max(0, Int(body.cy - radius)), y1 = min(n - 1, Int(body.cy + radius))
        guard x0 <= x1, y0 <= y1 else { return }
        flux.withUnsafeMutableBufferPointer { buf in
            for y in y0...y1 {
                let fy = Float(y) + 0.5
                var i = (y * n + x0) * 3
                for x in x0...x1 {
                    let c = body.flux(Float(x) + 0.5, fy)
                    buf[i] += c.r; buf[i + 1] += c.g; buf[i + 2] += c.b
                    i += 3
                }
            }
        }
    }

    /// Adds a circular Gaussian blob of peak `amp`.
    static func addGaussian(_ flux: inout [Float], x: Float, y: Float, sigma: Float, amp: Float, colour: Colour) {
        let n = size
        let reach = Int((3.5 * sigma).rounded(.up))
        let ix = Int(x), iy = Int(y)
        let inv = 1 / (2 * sigma * sigma)
        let x0 = max(0, ix - reach), x1 = min(n - 1, ix + reach)
        let y0 = max(0, iy - reach), y1 = min(n - 1, iy + reach)
        guard x0 <= x1, y0 <= y1 else { return }
        flux.withUnsafeMutableBufferPointer { buf in
            for py in y0...y1 {
                let dy = Float(py) + 0.5 - y
                for px in x0...x1 {
                    let dx = Float(px) + 0.5 - x
                    let f = amp * expf32(-(dx * dx + dy * dy) * inv)
                    let i = (py * n + px) * 3
                    buf[i] += f * colour.r; buf[i + 1] += f * colour.g; buf[i + 2] += f * colour.b
                }
            }
        }
    }

    /// A star: Gaussian core, an extended halo and, for bright ones, four diffraction spikes.
    static func addStar(_ flux: inout [Float], x: Float, y: Float, amp: Float, sigma: Float, colour: Colour,
                        spikes: Bool, spikeAngle: Float) {
        let n = size
        let reach = Int(spikes ? 12 * sigma + 30 * amp.squareRoot() : 4 * sigma)
        let ix = Int(x), iy = Int(y)
        let inv = 1 / (2 * sigma * sigma)
        let ca = cosf32(spikeAngle), sa = sinf32(spikeAngle)
        let spikeLength = 10 * sigma * amp.squareRoot()
        let x0 = max(0, ix - reach), x1 = min(n - 1, ix + reach)
        let y0 = max(0, iy - reach), y1 = min(n - 1, iy + reach)
        guard x0 <= x1, y0 <= y1 else { return }
        flux.withUnsafeMutableBufferPointer { buf in
            for py in y0...y1 {
                let dy = Float(py) + 0.5 - y
                for px in x0...x1 {
                    let dx = Float(px) + 0.5 - x
                    let r2 = dx * dx + dy * dy
                    var f = amp * (expf32(-r2 * inv) + 0.04 * expf32(-r2.squareRoot() / (2.5 * sigma)))
                    if spikes {
                        let a = abs(dx * ca + dy * sa), b = abs(-dx * sa + dy * ca)
                        let along = max(a, b), across = min(a, b)
                        if across < 3 {
                            f += 0.08 * amp * expf32(-across * across / 0.8 - along / spikeLength)
                        }
                    }
                    let i = (py * n + px) * 3
                    buf[i] += f * colour.r; buf[i + 1] += f * colour.g; buf[i + 2] += f * colour.b
                }
            }
        }
    }

    /// A satellite trail through the image: a thin line whose colour changes along its length
    /// the way SDSS trails do (each filter saw a different stretch of it).
    static func addTrail(_ flux: inout [Float], through p: (Float, Float), angle: Float, rng: inout SynthRNG) {
        let n = size
        let ca = cosf32(angle), sa = sinf32(angle)
        let width = rng.uniform(1.0, 1.6)
        let amp = rng.uniform(0.1, 0.35)
        let segment = rng.uniform(40, 90)
        let shift = rng.uniform(0, 3 * segment)
        let colours = [Colour(r: 1, g: 0.15, b: 0.1), Colour(r: 0.15, g: 1, b: 0.2), Colour(r: 0.2, g: 0.3, b: 1)]
        flux.withUnsafeMutableBufferPointer { buf in
            for py in 0..<n {
                let dy = Float(py) + 0.5 - p.1
                for px in 0..<n {
                    let dx = Float(px) + 0.5 - p.0
                    let across = -dx * sa + dy * ca
                    if abs(across) > 5 * width { continue }
                    let along = dx * ca + dy * sa + shift + 1000
                    let c = colours[Int(along / segment) % 3]
                    let f = amp * expf32(-across * across / (2 * width * width))
                    let i = (py * n + px) * 3
                    buf[i] += f * c.r; buf[i + 1] += f * c.g; buf[i + 2] += f * c.b
                }
            }
        }
    }

    /// A faint curved tidal tail: a chain of soft blobs leaving the body.
    static func addTail(_ flux: inout [Float], from c: (Float, Float), start: Float, length: Float, angle: Float,
                        curl: Float, amp: Float, rng: inout SynthRNG) {
        let steps = max(4, Int(length / 4))
        for k in 0..<steps {
            let t = Float(k) / Float(steps)
            let r = start + length * t
            let a = angle + curl * 1.4 * t
            let fade = 1 - 0.75 * t
            addGaussian(&flux, x: c.0 + r * cosf32(a) + 2 * rng.normal(), y: c.1 + r * sinf32(a) + 2 * rng.normal(),
                        sigma: 4 + 5 * t, amp: amp * fade * rng.uniform(0.5, 1.1), colour: discLight)
        }
    }

    static func starColour(_ rng: inout SynthRNG) -> Colour {
        switch rng.pick([0.35, 0.35, 0.15, 0.15]) {
        case 0: return Colour(r: 1, g: 0.95, b: 0.9)
        case 1: return Colour(r: 1, g: 0.85, b: 0.65)
        case 2: return Colour(r: 1, g: 0.7, b: 0.5)
        default: return Colour(r: 0.75, g: 0.85, b: 1)
        }
    }

    /// Field stars and the odd faint background galaxy anywhere in the frame.
    static func addBackgroundSources(_ flux: inout [Float], rng: inout SynthRNG) {
        for _ in 0..<rng.int(1, 6) {
            let amp = rng.logUniform(0.03, 1.2)
            addStar(&flux, x: rng.uniform(8, 416), y: rng.uniform(8, 416), amp: amp, sigma: rng.uniform(1.2, 1.7),
                    colour: starColour(&rng), spikes: amp > 0.8, spikeAngle: 0)
        }
        for _ in 0..<rng.int(0, 2) {
            addGaussian(&flux, x: rng.uniform(8, 416), y: rng.uniform(8, 416), sigma: rng.uniform(2, 4),
                        amp: rng.logUniform(0.02, 0.12), colour: oldStars)
        }
    }

    /// 4,096 standard normal values (Box-Muller from a fixed seed; 16 KB, stays in L1), indexed by
    /// 12 random bits: three noise values per 64-bit draw, several times cheaper than computing each.
    static let gaussianTable: [Float] = {
        var rng = SynthRNG(seed: 0x6761_6C61_7879, stream: 99)
        return (0..<4096).map { _ in rng.normal() }
    }()

    /// asinh stretch, sky, noise, quantization.
    static func finish(_ flux: [Float], rng: inout SynthRNG) -> RGBImage {
        let n = size
        let beta: Float = 0.05
        let norm = 1 / asinhf32(1 / beta)
        let linearGain = norm / beta
        let sky = rng.uniform(0.012, 0.03) * 255 + 0.5
        let sigma = rng.uniform(0.012, 0.022) * 255
        var pixels = [UInt8](repeating: 0, count: n * n * 3)
        gaussianTable.withUnsafeBufferPointer { table in
            flux.withUnsafeBufferPointer { src in
                pixels.withUnsafeMutableBufferPointer { dst in
                    for p in 0..<(n * n) {
                        let i = 3 * p
                        let r = src[i], g = src[i + 1], b = src[i + 2]
                        let intensity = (r + g + b) * (1.0 / 3)
                        let x = intensity / beta
                        // asinh(x)/x = 1 - x^2/6 + 3x^4/40 - ...; the two-term form is within 3e-4
                        // relative below x = 0.25, far under one grey level.
                        let gain = x < 0.25 ? linearGain * (1 - x * x * (1.0 / 6)) : asinhf32(x) * norm / intensity
                        let scale = gain * 255
                        let noiseScale = sigma * (1 + 1.5 * min(1, x * norm))
                        // One draw gives the three channels' noise (12 bits each).
                        let bits = rng.next()
                        let nr = table[Int(bits & 0xFFF)], ng = table[Int((bits >> 20) & 0xFFF)]
                        let nb = table[Int((bits >> 40) & 0xFFF)]
                        dst[i] = quantize(r * scale + sky + noiseScale * nr)
                        dst[i + 1] = quantize(g * scale + sky + noiseScale * ng)
                        dst[i + 2] = quantize(b * scale + sky * 1.1 + noiseScale * nb)
                    }
                }
            }
        }
        return RGBImage(width: n, height: n, pixels: pixels)
    }

    /// Rounds a display value already scaled to 0...255 (plus 0.5) to a byte.
    @inline(__always)
    static func quantize(_ v: Float) -> UInt8 { v <= 0 ? 0 : (v >= 255 ? 255 : UInt8(truncatingIfNeeded: Int32(v))) }
}

extension GalaxyRenderer.Body {
    /// Distance from the centre beyond which every per-pixel component is fainter than `threshold`
    /// (flux units; 0.0015 is about 2/255 after the stretch, under the sky noise).
    func reach(threshold t: Float) -> Float {
        var r: Float = 0
        if spheroidAmp > t {
            let x = logf32(spheroidAmp / t) / spheroidK
            r = max(r, spheroidScale * x * x)
        }
        if discAmp > t {
            r = max(r, discScale * logf32((discAmp + barAmp) * 2.4 / t))
        }
        if ringAmp > t { r = max(r, ringRadius + 4 / ringInvW) }
        if arcAmp > t { r = max(r, arcRadius + 4 / arcInvW) }
        if compAmp > t {
            let x = logf32(compAmp / t) / 2
            let d = ((compX - cx) * (compX - cx) + (compY - cy) * (compY - cy)).squareRoot()
            r = max(r, d + compScale * x * x)
        }
        return min(r, 320)
    }

    /// Sky pixel position of a point given along (u) and across (v) the major axis.
    func toImage(u: Float, v: Float) -> (Float, Float) {
        (cx + u * cosPA - v * sinPA, cy + u * sinPA + v * cosPA)
    }
}
