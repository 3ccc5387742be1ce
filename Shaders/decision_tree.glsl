// The decision tree of the constrained output shaders (AnswerSchema in Swift; ConstrainedOutputTree lays it
// out): QUESTIONS questions over ANSWERS answer columns; question q's answers are columns QSTART[q] ..< QSTART[q + 1],
// PARENT[q] is the column of the answer q is asked after (-1: asked of everyone, the question sums to 1), and ORDER
// lists the questions with every parent's question before its children's (the smallest such order: 0, 1, 2, ...
// wherever the questions already come so, as Kaggle's do).
//
// Every value is a specialization constant (ids 2 and up; 0 is the workgroup size, 1 FORM), the defaults the
// Kaggle tree. Why constants and not a buffer: once the driver specializes the pipeline, every loop bound and every
// index below is a compile-time constant, so the compiler unrolls the loops and keeps a row's arrays in registers,
// as when the tree was written here as literals (the same code for Kaggle); read from a buffer, each x[c] would be
// a dynamic index, which puts the arrays in scratch memory on AMD (ACO) and most GPUs. GLSL has no const array of
// specialization constants, so tree_init() fills three private arrays with them: stores of constants that the
// compiler folds away. A tree has at most MAX_QUESTIONS questions; unused slots hold ANSWERS, -1 and 0.
const uint MAX_QUESTIONS = 24;
layout(constant_id = 2) const uint QUESTIONS = 11;
layout(constant_id = 3) const uint ANSWERS = 37;
layout(constant_id = 4) const uint QSTART_0 = 0;
layout(constant_id = 5) const uint QSTART_1 = 3;
layout(constant_id = 6) const uint QSTART_2 = 5;
layout(constant_id = 7) const uint QSTART_3 = 7;
layout(constant_id = 8) const uint QSTART_4 = 9;
layout(constant_id = 9) const uint QSTART_5 = 13;
layout(constant_id = 10) const uint QSTART_6 = 15;
layout(constant_id = 11) const uint QSTART_7 = 18;
layout(constant_id = 12) const uint QSTART_8 = 25;
layout(constant_id = 13) const uint QSTART_9 = 28;
layout(constant_id = 14) const uint QSTART_10 = 31;
layout(constant_id = 15) const uint QSTART_11 = 37;
layout(constant_id = 16) const uint QSTART_12 = 37;
layout(constant_id = 17) const uint QSTART_13 = 37;
layout(constant_id = 18) const uint QSTART_14 = 37;
layout(constant_id = 19) const uint QSTART_15 = 37;
layout(constant_id = 20) const uint QSTART_16 = 37;
layout(constant_id = 21) const uint QSTART_17 = 37;
layout(constant_id = 22) const uint QSTART_18 = 37;
layout(constant_id = 23) const uint QSTART_19 = 37;
layout(constant_id = 24) const uint QSTART_20 = 37;
layout(constant_id = 25) const uint QSTART_21 = 37;
layout(constant_id = 26) const uint QSTART_22 = 37;
layout(constant_id = 27) const uint QSTART_23 = 37;
layout(constant_id = 28) const uint QSTART_24 = 37;
layout(constant_id = 29) const int PARENT_0 = -1;
layout(constant_id = 30) const int PARENT_1 = 1;
layout(constant_id = 31) const int PARENT_2 = 4;
layout(constant_id = 32) const int PARENT_3 = 4;
layout(constant_id = 33) const int PARENT_4 = 4;
layout(constant_id = 34) const int PARENT_5 = -1;
layout(constant_id = 35) const int PARENT_6 = 0;
layout(constant_id = 36) const int PARENT_7 = 13;
layout(constant_id = 37) const int PARENT_8 = 3;
layout(constant_id = 38) const int PARENT_9 = 7;
layout(constant_id = 39) const int PARENT_10 = 7;
layout(constant_id = 40) const int PARENT_11 = -1;
layout(constant_id = 41) const int PARENT_12 = -1;
layout(constant_id = 42) const int PARENT_13 = -1;
layout(constant_id = 43) const int PARENT_14 = -1;
layout(constant_id = 44) const int PARENT_15 = -1;
layout(constant_id = 45) const int PARENT_16 = -1;
layout(constant_id = 46) const int PARENT_17 = -1;
layout(constant_id = 47) const int PARENT_18 = -1;
layout(constant_id = 48) const int PARENT_19 = -1;
layout(constant_id = 49) const int PARENT_20 = -1;
layout(constant_id = 50) const int PARENT_21 = -1;
layout(constant_id = 51) const int PARENT_22 = -1;
layout(constant_id = 52) const int PARENT_23 = -1;
layout(constant_id = 53) const uint ORDER_0 = 0;
layout(constant_id = 54) const uint ORDER_1 = 1;
layout(constant_id = 55) const uint ORDER_2 = 2;
layout(constant_id = 56) const uint ORDER_3 = 3;
layout(constant_id = 57) const uint ORDER_4 = 4;
layout(constant_id = 58) const uint ORDER_5 = 5;
layout(constant_id = 59) const uint ORDER_6 = 6;
layout(constant_id = 60) const uint ORDER_7 = 7;
layout(constant_id = 61) const uint ORDER_8 = 8;
layout(constant_id = 62) const uint ORDER_9 = 9;
layout(constant_id = 63) const uint ORDER_10 = 10;
layout(constant_id = 64) const uint ORDER_11 = 0;
layout(constant_id = 65) const uint ORDER_12 = 0;
layout(constant_id = 66) const uint ORDER_13 = 0;
layout(constant_id = 67) const uint ORDER_14 = 0;
layout(constant_id = 68) const uint ORDER_15 = 0;
layout(constant_id = 69) const uint ORDER_16 = 0;
layout(constant_id = 70) const uint ORDER_17 = 0;
layout(constant_id = 71) const uint ORDER_18 = 0;
layout(constant_id = 72) const uint ORDER_19 = 0;
layout(constant_id = 73) const uint ORDER_20 = 0;
layout(constant_id = 74) const uint ORDER_21 = 0;
layout(constant_id = 75) const uint ORDER_22 = 0;
layout(constant_id = 76) const uint ORDER_23 = 0;
uint QSTART[MAX_QUESTIONS + 1];
int PARENT[MAX_QUESTIONS];
uint ORDER[MAX_QUESTIONS];

void tree_init() {
    QSTART = uint[](QSTART_0, QSTART_1, QSTART_2, QSTART_3, QSTART_4, QSTART_5, QSTART_6, QSTART_7, QSTART_8, QSTART_9, QSTART_10, QSTART_11, QSTART_12, QSTART_13, QSTART_14, QSTART_15, QSTART_16, QSTART_17, QSTART_18, QSTART_19, QSTART_20, QSTART_21, QSTART_22, QSTART_23, QSTART_24);
    PARENT = int[](PARENT_0, PARENT_1, PARENT_2, PARENT_3, PARENT_4, PARENT_5, PARENT_6, PARENT_7, PARENT_8, PARENT_9, PARENT_10, PARENT_11, PARENT_12, PARENT_13, PARENT_14, PARENT_15, PARENT_16, PARENT_17, PARENT_18, PARENT_19, PARENT_20, PARENT_21, PARENT_22, PARENT_23);
    ORDER = uint[](ORDER_0, ORDER_1, ORDER_2, ORDER_3, ORDER_4, ORDER_5, ORDER_6, ORDER_7, ORDER_8, ORDER_9, ORDER_10, ORDER_11, ORDER_12, ORDER_13, ORDER_14, ORDER_15, ORDER_16, ORDER_17, ORDER_18, ORDER_19, ORDER_20, ORDER_21, ORDER_22, ORDER_23);
}
