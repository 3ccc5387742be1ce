// The answer weights a = f(z) of the constrained output shaders (ConstrainedOutputForm in Swift),
// chosen by specialization constant FORM: 0 = max(z, 0) (the first form), 1 = softplus.
layout(constant_id = 1) const uint FORM = 0;

// Relu form: keeps a question whose answers are all <= 0 at 0/eps = 0 instead of 0/0. At 1e-12 it is
// a normal float32, and it rounds away in any answer sum above ~2^24 * 1e-12 = 1.7e-5, so it does not
// bias ordinary rows; and a_i <= sum + eps keeps every normalized value in [0, 1].
const float EPS = 1e-12;

// Softplus form: below this z, softplus(z) is e^z to a relative 1e-9; a question whose largest z is
// below it is normalized as exp(z - top) (Reference.softplusTail), so its sum never underflows to 0.
const float SOFTPLUS_TAIL = -20.0;

// log(1 + t) for t in [0, 1] as 2 atanh(y), y = t / (2 + t) <= 1/3, summed to y^15 (the rest is below
// 2e-9 relative). Plain arithmetic: log() may be off by 2^-21 absolute near 1, too much for small t.
float log1pSmall(float t) {
    float y = t / (2.0 + t), y2 = y * y;
    float s = 1.0 / 15.0;
    s = s * y2 + 1.0 / 13.0;
    s = s * y2 + 1.0 / 11.0;
    s = s * y2 + 1.0 / 9.0;
    s = s * y2 + 1.0 / 7.0;
    s = s * y2 + 1.0 / 5.0;
    s = s * y2 + 1.0 / 3.0;
    s = s * y2 + 1.0;
    return 2.0 * y * s;
}

float softplus(float x) { return max(x, 0.0) + log1pSmall(exp(-abs(x))); }

// The answer weight of pre-activation x in a question whose largest pre-activation is top.
float answerWeight(float x, float top) {
    if (FORM == 0u) return max(x, 0.0);
    return top < SOFTPLUS_TAIL ? exp(x - top) : softplus(x);
}

// f'(x) / f(x) for the softplus form (d n_i / d z_j = r_j n_j (delta_ij - n_i)).
float logDerivative(float x, float top) {
    if (top < SOFTPLUS_TAIL || x < SOFTPLUS_TAIL) return 1.0;
    return 1.0 / ((1.0 + exp(-x)) * softplus(x));
}

// The largest pre-activation of question q in row x (only the softplus form uses it).
float questionTop(float x[ANSWERS], uint q) {
    float top = x[QSTART[q]];
    for (uint c = QSTART[q] + 1; c < QSTART[q + 1]; ++c) top = max(top, x[c]);
    return top;
}
