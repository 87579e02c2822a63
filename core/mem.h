/* mem -- how much memory this process holds, and giving back what a request left behind.
 *
 * A worker calls mem_rss_kb() after each request; when it holds more than it may (conf
 * worker_max_kept_mb over its size after the first request), it drops what keeps grown
 * buffers (its database connection: libpq's input buffer stays as large as the largest row it
 * read) and calls mem_trim(). Owns
 * nothing but the shared blocks it maps. */
#ifndef T2_MEM_H
#define T2_MEM_H

#include <stddef.h>

/* Resident size of this process in kB (/proc/self/statm), or -1 if unknown. */
long mem_rss_kb(void);
/* Returns the allocator's free memory to the system (malloc_trim). */
void mem_trim(void);
/* A zeroed block of n bytes shared with every process forked after the call (an anonymous
 * shared mapping: a master's counters its workers add to), or NULL. Never unmapped: it lives
 * as long as the processes that use it. */
void *mem_shared(size_t n);
/* Makes room for element n of the array *arr (elements of sz bytes, *cap of them allocated):
 * when n reaches *cap it doubles (first 16), zeroing the new part. 0, or -1 when out of
 * memory or past INT_MAX / 2 elements, with *arr and *cap as they were. */
int mem_grow(void *arr, int *cap, int n, size_t sz);

#endif
