#ifndef GALAXY_CPNG_SHIM_H
#define GALAXY_CPNG_SHIM_H
// libpng's simplified reading API (png_image), behind three calls Swift can make without its macros.
#include <stddef.h>
#include <string.h>
#include <png.h>

// Reads the header of a PNG in memory into `image`: 1 on success, else 0 with the reason in image->message.
static inline int galaxy_png_begin(png_image *image, const void *data, size_t size) {
    memset(image, 0, sizeof *image);
    image->version = PNG_IMAGE_VERSION;
    return png_image_begin_read_from_memory(image, data, size);
}

// Decodes into 8-bit RGB rows (width * 3 bytes each, top row first). An alpha channel is composited onto
// what `buffer` holds (zeros: black). 1 on success, else 0 with the reason in image->message.
static inline int galaxy_png_finish_rgb(png_image *image, void *buffer) {
    image->format = PNG_FORMAT_RGB;
    return png_image_finish_read(image, NULL, buffer, 0, NULL);
}

// Frees what a failed or unfinished read holds (a no-op after png_image_finish_read succeeded).
static inline void galaxy_png_free(png_image *image) { png_image_free(image); }

#endif
