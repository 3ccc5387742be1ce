#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small, fast, seedable random numbers for the synthetic data set. Everything the generator draws
/// comes from a `SynthRNG` keyed by (seed, galaxy ID, stream), so a galaxy's latents, votes and
/// pixels depend on nothing else: not on the thread that renders it, nor on how many galaxies
/// are generated alongside it.

/// SplitMix64 step (Steele, Lea, Flood 2014): used to expand keys into xoshiro state.
@inline(__always)
func splitMix64(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// xoshiro256** (Blackman, Vigna 2018) seeded through SplitMix64.
public struct SynthRNG: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator for one purpose (`stream`) of one galaxy (`key`) under a data-set `seed`.
    public init(seed: UInt64, key: UInt64 = 0, stream: UInt64 = 0) {
        var sm = seed
        // Fold the key and stream in through separate SplitMix rounds so that nearby
        // (seed, key, stream) triples give unrelated states.
        sm = splitMix64(&sm) ^ (key &* 0xD1B5_4A32_D192_ED03)
        sm = splitMix64(&sm) ^ (stream &* 0x8CB9_2BA7_2F3D_8DD7)
        s0 = splitMix64(&sm); s1 = splitMix64(&sm); s2 = splitMix64(&sm); s3 = splitMix64(&sm)
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [a, b).
    @inline(__always)
    public mutating func uniform(_ a: Float, _ b: Float) -> Float { a + (b - a) * uniform() }

    /// Log-uniform in [a, b), a > 0.
    public mutating func logUniform(_ a: Float, _ b: Float) -> Float {
        a * powf32(b / a, uniform())
    }

    /// True with probability p.
    @inline(__always)
    public mutating func chance(_ p: Float) -> Bool { uniform() < p }

    /// Integer in lo...hi.
    public mutating func int(_ lo: Int, _ hi: Int) -> Int { lo + Int(next() % UInt64(hi - lo + 1)) }

    /// A standard normal by Box-Muller (one value per call; used where exactness matters more than speed).
    public mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * logf32(u1)).squareRoot() * cosf32(2 * .pi * u2)
    }

    /// A cheap, approximately standard normal value from one 64-bit draw: the sum of four
    /// 16-bit uniforms (Irwin-Hall, variance 4/12) rescaled. Tails stop at about 3.5 sigma,
    /// which is all that pixel noise needs.
    @inline(__always)
    public mutating func fastNormal() -> Float {
        let r = next()
        let a = Float(r & 0xFFFF) + Float((r >> 16) & 0xFFFF) + Float((r >> 32) & 0xFFFF) + Float(r >> 48)
        // mean 4 * 32767.5, sd sqrt(4/12) * 65536
        return (a - 131_070) * (1.0 / 37_837.23)
    }

    /// Index drawn with probability proportional to `weights` (non-negative, not all zero).
    public mutating func pick(_ weights: [Float]) -> Int {
        let total = weights.reduce(0, +)
        var x = uniform() * total
        for (i, w) in weights.enumerated() {
            x -= w
            if x < 0 { return i }
        }
        return weights.lastIndex(where: { $0 > 0 }) ?? 0
    }
}

// Float libm entry points under names that do not clash with Swift's generic overloads.
@inline(__always) func powf32(_ x: Float, _ y: Float) -> Float { powf(x, y) }
@inline(__always) func logf32(_ x: Float) -> Float { logf(x) }
@inline(__always) func cosf32(_ x: Float) -> Float { cosf(x) }
@inline(__always) func sinf32(_ x: Float) -> Float { sinf(x) }
@inline(__always) func expf32(_ x: Float) -> Float { expf(x) }
@inline(__always) func atan2f32(_ y: Float, _ x: Float) -> Float { atan2f(y, x) }
@inline(__always) func asinhf32(_ x: Float) -> Float { asinhf(x) }
