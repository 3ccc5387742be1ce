#include "galaxy_mpi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

// Open MPI's ABI (mpi.h of Open MPI 3 to 5): MPI_Comm, MPI_Datatype and MPI_Errhandler are pointers, and
// the predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_DOUBLE, MPI_ERRORS_RETURN) are the addresses of
// the library's globals ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_double and ompi_mpi_errors_return.
typedef void *Handle;
enum { THREAD_FUNNELED = 1, MAX_ERROR_STRING = 256 };

static struct {
    Handle world, float_type, double_type, errors_return;
    int (*init_thread)(int *, char ***, int, int *);
    int (*comm_set_errhandler)(Handle, Handle);
    int (*comm_rank)(Handle, int *);
    int (*comm_size)(Handle, int *);
    int (*finalized)(int *);
    int (*finalize)(void);
    int (*abort)(Handle, int);
    int (*allgather)(const void *, int, Handle, void *, int, Handle, Handle);
    int (*bcast)(void *, int, Handle, int, Handle);
    int (*barrier)(Handle);
    int (*error_string)(int, char *, int *);
} mpi;

int galaxy_mpi_load(const char *library, char *error, size_t size) {
    // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve their symbols in libmpi.
    void *lib = dlopen(library, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        snprintf(error, size, "%s", dlerror());
        return -1;
    }
    struct { const char *name; void **slot; } symbols[] = {
        {"ompi_mpi_comm_world", &mpi.world},
        {"ompi_mpi_float", &mpi.float_type},
        {"ompi_mpi_double", &mpi.double_type},
        {"ompi_mpi_errors_return", &mpi.errors_return},
        {"MPI_Init_thread", (void **)&mpi.init_thread},
        {"MPI_Comm_set_errhandler", (void **)&mpi.comm_set_errhandler},
        {"MPI_Comm_rank", (void **)&mpi.comm_rank},
        {"MPI_Comm_size", (void **)&mpi.comm_size},
        {"MPI_Finalized", (void **)&mpi.finalized},
        {"MPI_Finalize", (void **)&mpi.finalize},
        {"MPI_Abort", (void **)&mpi.abort},
        {"MPI_Allgather", (void **)&mpi.allgather},
        {"MPI_Bcast", (void **)&mpi.bcast},
        {"MPI_Barrier", (void **)&mpi.barrier},
        {"MPI_Error_string", (void **)&mpi.error_string},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(lib, symbols[i].name);
        if (!*symbols[i].slot) {
            snprintf(error, size, "%s has no %s: not Open MPI 3 to 5", library, symbols[i].name);
            memset(&mpi, 0, sizeof mpi);
            return -1;
        }
    }
    return 0;
}

int galaxy_mpi_init_thread_funneled(int *provided) { return mpi.init_thread(NULL, NULL, THREAD_FUNNELED, provided); }
int galaxy_mpi_errors_return(void) { return mpi.comm_set_errhandler(mpi.world, mpi.errors_return); }
int galaxy_mpi_comm_rank(int *rank) { return mpi.comm_rank(mpi.world, rank); }
int galaxy_mpi_comm_size(int *size) { return mpi.comm_size(mpi.world, size); }
int galaxy_mpi_finalized(int *finalized) { return mpi.finalized(finalized); }
int galaxy_mpi_finalize(void) { return mpi.finalize(); }
int galaxy_mpi_abort(int code) { return mpi.abort(mpi.world, code); }

int galaxy_mpi_allgather(const void *send, void *receive, int count, int doubles) {
    Handle type = doubles ? mpi.double_type : mpi.float_type;
    return mpi.allgather(send, count, type, receive, count, type, mpi.world);
}

int galaxy_mpi_bcast_doubles(void *buffer, int count, int root) {
    return mpi.bcast(buffer, count, mpi.double_type, root, mpi.world);
}

int galaxy_mpi_barrier(void) { return mpi.barrier(mpi.world); }

void galaxy_mpi_error_string(int code, char *text, size_t size) {
    char message[MAX_ERROR_STRING + 1] = {0};
    int length = 0;
    if (mpi.error_string(code, message, &length) != 0) snprintf(message, sizeof message, "MPI error %d", code);
    snprintf(text, size, "%s", message);
}
