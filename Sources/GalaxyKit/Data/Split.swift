/// MT19937 as numpy's legacy `RandomState` uses it: seeded by Matsumoto and Nishimura's
/// `init_genrand` from a 32-bit integer, producing tempered 32-bit words.
struct MersenneTwister {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    init(seed: UInt32) {
        state[0] = seed
        for i in 1..<624 {
            let prev = state[i - 1]
            state[i] = 1_812_433_253 &* (prev ^ (prev >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            var next = state[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { next ^= 0x9908_B0DF }
            state[i] = next
        }
        index = 0
    }

    mutating func next() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// A uniform integer in `0...max` the way numpy's legacy `random_interval` draws it:
    /// mask 32-bit draws down to the smallest all-ones mask covering `max`, reject values above it.
    mutating func interval(_ max: UInt32) -> UInt32 {
        if max == 0 { return 0 }
        var mask = max
        mask |= mask >> 1
        mask |= mask >> 2
        mask |= mask >> 4
        mask |= mask >> 8
        mask |= mask >> 16
        while true {
            let value = next() & mask
            if value <= max { return value }
        }
    }
}

/// numpy's `RandomState(seed).permutation(count)`: `arange(count)` shuffled by the legacy
/// Fisher-Yates loop (`for i in n-1...1: swap(x[i], x[random_interval(i)])`).
func legacyNumpyPermutation(count: Int, seed: UInt32) -> [Int] {
    precondition(count >= 0 && count <= Int(UInt32.max), "permutation of \(count) items")
    var values = Array(0..<count)
    var rng = MersenneTwister(seed: seed)
    var i = count - 1
    while i >= 1 {
        let j = Int(rng.interval(UInt32(i)))
        values.swapAt(i, j)
        i -= 1
    }
    return values
}

/// The seed's split, identical to scikit-learn's
/// `train_test_split(range(count), test_size=testFraction, random_state=seed)`:
/// the permutation of numpy's legacy `RandomState(seed)`, its first `ceil(testFraction * count)`
/// entries are the test indices and the rest the training indices (both in permutation order).
/// For 61,578 galaxies this gives 49,262 / 12,316.
public func trainTestSplit(count: Int, testFraction: Double = 0.2, seed: UInt32 = 42) -> (train: [Int], test: [Int]) {
    precondition(count >= 0, "trainTestSplit: negative count \(count)")
    precondition(testFraction >= 0 && testFraction <= 1, "trainTestSplit: test fraction \(testFraction) outside [0,1]")
    let permutation = legacyNumpyPermutation(count: count, seed: seed)
    let testCount = min(Int((testFraction * Double(count)).rounded(.up)), count)
    return (Array(permutation[testCount...]), Array(permutation[..<testCount]))
}
