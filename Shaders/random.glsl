// Counter-based randomness shared by the device and its CPU reference (Augment.swift): an integer
// hash (Wellons' lowbias32) of (seed, epoch, image index), so no random numbers are ever uploaded.
uint hash32(uint x) {
    x ^= x >> 16; x *= 0x7feb352dU;
    x ^= x >> 15; x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}
uint augmentKey(uint seed, uint epoch, uint image) {
    return hash32(hash32(hash32(seed) ^ epoch) ^ image);
}
