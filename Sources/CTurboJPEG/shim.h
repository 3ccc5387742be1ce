#ifndef GALAXY_CTURBOJPEG_SHIM_H
#define GALAXY_CTURBOJPEG_SHIM_H
#include <stddef.h>
#include <turbojpeg.h>
#endif
