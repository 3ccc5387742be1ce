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

// True when the file's samples are 16-bit (the simplified reader then takes them as linear values).
static inline int galaxy_png_is_16bit(const png_image *image) { return (image->format & PNG_FORMAT_FLAG_LINEAR) != 0; }

// Decodes a 16-bit file into 16-bit RGB as stored (linear in, linear out: no gamma conversion), alpha composited
// onto black. 1 on success, else 0 with the reason in image->message.
static inline int galaxy_png_finish_rgb16(png_image *image, void *buffer) {
    image->format = PNG_FORMAT_LINEAR_RGB;
    return png_image_finish_read(image, NULL, buffer, 0, NULL);
}

// Frees what a failed or unfinished read holds (a no-op after png_image_finish_read succeeded).
static inline void galaxy_png_free(png_image *image) { png_image_free(image); }

#endif
