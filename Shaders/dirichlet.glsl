// The Dirichlet-multinomial likelihood of vote counts (Dirichlet.swift): the concentration map, log Gamma and
// digamma in float32 for arguments >= 1 (every argument the loss takes: concentrations >= 1, counts >= 0),
// and the schema's question layout: question q owns columns qstart[q] ..< qstart[q + 1].

// alpha = 1 + 99 sigmoid(z), in (1, 100): Reference.concentrationFloor / concentrationSpan.
const float FLOOR = 1.0;
const float SPAN = 99.0;

// sigmoid(z) and sigmoid'(z) = sigmoid (1 - sigmoid) from t = e^-|z| <= 1: neither overflows nor cancels.
float sigmoidOf(float z) {
    float t = exp(-abs(z));
    return z >= 0.0 ? 1.0 / (1.0 + t) : t / (1.0 + t);
}
float sigmoidSlope(float z) {
    float t = exp(-abs(z));
    return t / ((1.0 + t) * (1.0 + t));
}
float concentration(float z) { return FLOOR + SPAN * sigmoidOf(z); }

// log Gamma(x), x >= 1: shifted up to x >= 8 (log Gamma(x) = log Gamma(x + n) - log(x (x+1) ... (x+n-1)), a
// product in [2, 8!] so log is evaluated where Vulkan bounds it relatively), then Stirling's series to
// 1/(1680 x^7); the next term is below 1/(1188 * 8^9) = 6e-12.
float lgammaAtLeastOne(float x) {
    float product = 1.0;
    while (x < 8.0) { product *= x; x += 1.0; }
    float r = 1.0 / x, r2 = r * r;
    float series = r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 * (1.0 / 1680.0))));
    return (x - 0.5) * log(x) - x + 0.91893853320467274 + series - (product == 1.0 ? 0.0 : log(product));
}

// digamma(x), x >= 1: psi(x) = psi(x + n) - sum 1/(x + j), then the asymptotic series to 1/(252 x^6); the next
// term is below 1/(240 * 8^8) = 2.5e-10.
float digammaAtLeastOne(float x) {
    float shift = 0.0;
    while (x < 8.0) { shift += 1.0 / x; x += 1.0; }
    float r = 1.0 / x, r2 = r * r;
    return log(x) - 0.5 * r - r2 * (1.0 / 12.0 - r2 * (1.0 / 120.0 - r2 * (1.0 / 252.0))) - shift;
}
