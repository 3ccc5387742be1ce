// The Galaxy Zoo decision tree of the constrained output layer (GalaxyZooTree in Swift):
// questionRanges as start columns, and parentColumn (-1: the question sums to 1).
const uint QUESTIONS = 11;
const uint ANSWERS = 37;
const uint QSTART[QUESTIONS + 1] = uint[](0, 3, 5, 7, 9, 13, 15, 18, 25, 28, 31, 37);
const int PARENT[QUESTIONS] = int[](-1, 1, 4, 4, 4, -1, 0, 13, 3, 7, 7);
// Keeps a question whose answers are all <= 0 at 0/eps = 0 instead of 0/0. At 1e-12 it is a normal
// float32, and it rounds away in any answer sum above ~2^24 * 1e-12 = 1.7e-5, so it does not bias
// ordinary rows; and a_i <= sum + eps keeps every normalized value in [0, 1].
const float EPS = 1e-12;
