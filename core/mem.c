/* mem -- resident size and allocator trimming; see mem.h. */
#include "mem.h"

#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

long mem_rss_kb(void)
{
    char b[128];
    long pages, resident;
    ssize_t n;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

    if (fd < 0) return -1;
    n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return -1;
    b[n] = '\0';
    if (sscanf(b, "%ld %ld", &pages, &resident) != 2) return -1;
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
