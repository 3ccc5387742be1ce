// The Galaxy Zoo decision tree of the constrained output layer (GalaxyZooTree in Swift):
// questionRanges as start columns, and parentColumn (-1: the question sums to 1).
const uint QUESTIONS = 11;
const uint ANSWERS = 37;
const uint QSTART[QUESTIONS + 1] = uint[](0, 3, 5, 7, 9, 13, 15, 18, 25, 28, 31, 37);
const int PARENT[QUESTIONS] = int[](-1, 1, 4, 4, 4, -1, 0, 13, 3, 7, 7);
