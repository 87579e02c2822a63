/* mem -- resident size and allocator trimming; see mem.h. */
#include "mem.h"

#include "log.h"

#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* /proc/self/statm stays open (one pread per call); a forked child opens its own, since
 * "self" was resolved to the opener's pid. */
long mem_rss_kb(void)
{
    static int fd = -1;
    static pid_t owner;
    char b[128], *end;
    long resident;
    ssize_t n;

    if (fd >= 0 && owner != log_pid()) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        if ((fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) < 0) return -1;
        owner = log_pid();
    }
    n = pread(fd, b, sizeof b - 1, 0);
    if (n <= 0) return -1;
    b[n] = '\0';
    strtol(b, &end, 10); /* size, then resident */
    if (end == b || (resident = strtol(end, &end, 10)) < 0) return -1;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

void mem_trim(void)
{
    malloc_trim(0);
}

void *mem_shared(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p; /* anonymous mappings come zeroed */
}

int mem_grow(void *arr, int *cap, int n, size_t sz)
{
    void **a = arr;
    int ncap;
    void *np;

    if (n < *cap) return 0;
    if (*cap > INT_MAX / 2) return -1;
    ncap = *cap ? *cap * 2 : 16;
    np = realloc(*a, (size_t)ncap * sz);
    if (!np) return -1;
    memset((char *)np + (size_t)*cap * sz, 0, (size_t)(ncap - *cap) * sz);
    *a = np;
    *cap = ncap;
    return 0;
}
