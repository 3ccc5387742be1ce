#version 450
// Cached uint8 images (CHW 3x69x69, bytes packed in uint words, spread over up to 8 bound windows of
// one buffer) -> the network's float input [batch,3,69,69]: random horizontal flip, rotation about the
// centre (nearest neighbour, outside black, PIL's Image.rotate), random vertical flip, then ToTensor and
// ImageNet normalization through a 3x256 lookup table. mode 0: no augmentation; 1: random, keyed by
// (seed, epoch, image index); 2: the fixed dihedral view `view` (h-flip if view&4, then rotation by 90*(view&3)).
// indices[b] is row b's image in the data set (the augmentation's key); its bytes are image
// indices[positions + b] of the bound windows: the same with positions 0, or a place in a streamed slot.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "random.glsl"
layout(std430, binding = 0) readonly buffer W0 { uint w0[]; };
layout(std430, binding = 1) readonly buffer W1 { uint w1[]; };
layout(std430, binding = 2) readonly buffer W2 { uint w2[]; };
layout(std430, binding = 3) readonly buffer W3 { uint w3[]; };
layout(std430, binding = 4) readonly buffer W4 { uint w4[]; };
layout(std430, binding = 5) readonly buffer W5 { uint w5[]; };
layout(std430, binding = 6) readonly buffer W6 { uint w6[]; };
layout(std430, binding = 7) readonly buffer W7 { uint w7[]; };
layout(std430, binding = 8) readonly buffer Indices { uint indices[]; };
// [0,768): normalized value of each byte per channel; then cos/sin of 65536 angles in [0, 2pi).
layout(std430, binding = 9) readonly buffer Table { float table[]; };
layout(std430, binding = 10) writeonly buffer Out { float outp[]; };
layout(push_constant) uniform Params {
    uint batch; uint side; uint seed; uint epoch; uint mode; uint view; uint imagesPerWindow; uint positions;
} p;

const uint TRIG = 768;

uint loadWord(uint window, uint i) {
    switch (window) {
        case 0: return w0[i]; case 1: return w1[i]; case 2: return w2[i]; case 3: return w3[i];
        case 4: return w4[i]; case 5: return w5[i]; case 6: return w6[i]; default: return w7[i];
    }
}

void main() {
    uint plane = p.side * p.side;
    uint i = globalIndex();
    if (i >= p.batch * 3 * plane) return;
    uint b = i / (3 * plane), c = (i / plane) % 3, r = i % plane;
    int x = int(r % p.side), y = int(r / p.side);
    uint image = indices[b];
    bool hflip = false, vflip = false;
    uint angle = 0;  // in 65536ths of a turn
    if (p.mode == 1) {
        uint key = augmentKey(p.seed, p.epoch, image);
        hflip = (hash32(key ^ 0x68e31da4U) & 1U) != 0;
        angle = hash32(key ^ 0xb5297a4dU) >> 16;
        vflip = (hash32(key ^ 0x1b56c4e9U) & 1U) != 0;
    } else if (p.mode == 2) {
        angle = (p.view & 3U) * 16384U;
        hflip = (p.view & 4U) != 0;
    }
    int last = int(p.side) - 1;
    if (vflip) y = last - y;
    // Inverse map of PIL's rotate: the output pixel centre, relative to the image centre, rotated back.
    float cs = table[TRIG + 2 * angle], sn = table[TRIG + 2 * angle + 1];
    float half_ = float(p.side) * 0.5;
    precise float dx = float(x) + 0.5 - half_;
    precise float dy = float(y) + 0.5 - half_;
    precise float sx = cs * dx - sn * dy + half_;
    precise float sy = sn * dx + cs * dy + half_;
    int ix = int(floor(sx)), iy = int(floor(sy));
    float v = table[c * 256];  // the value of a black pixel
    if (ix >= 0 && ix <= last && iy >= 0 && iy <= last) {
        if (hflip) ix = last - ix;
        uint at = indices[p.positions + b];
        uint window = at / p.imagesPerWindow;
        uint byteIndex = (at % p.imagesPerWindow) * 3 * plane + c * plane + uint(iy) * p.side + uint(ix);
        uint byteValue = (loadWord(window, byteIndex >> 2) >> ((byteIndex & 3U) * 8U)) & 0xFFU;
        v = table[c * 256 + byteValue];
    }
    outp[i] = v;
}
