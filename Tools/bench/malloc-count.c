// Counts a process's heap allocations, to measure allocations per request of a running server.
// Build: cc -O2 -shared -fPIC -o /tmp/malloc-count.so Tools/bench/malloc-count.c (Tools/bench/allocations.sh does it all)
// Run:   LD_PRELOAD=/tmp/malloc-count.so .build/release/clarm serve ...
//        kill -WINCH <pid>   # appends "<allocations> <frees>" to $MALLOC_COUNT_FILE (default /tmp/malloc-count.txt)
// Reading twice around a load run of N requests gives (difference) / N allocations per request.
// Every allocation entry point of glibc is counted (malloc, calloc, realloc, posix_memalign, aligned_alloc,
// memalign); the counters are relaxed atomics, so the cost per call is one locked add.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_ulong allocations, frees;

static void count(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    count();
    void *p = __libc_memalign(alignment, size);
    if (!p) return 12;  // ENOMEM
    *out = p;
    return 0;
}
void free(void *p) {
    if (p) atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
    __libc_free(p);
}

// Async-signal-safe: formats by hand and writes with write(2).
static void report(int signal) {
    (void)signal;
    const char *path = getenv("MALLOC_COUNT_FILE");
    int fd = open(path ? path : "/tmp/malloc-count.txt", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return;
    char line[64];
    int n = 0;
    unsigned long values[2] = {atomic_load(&allocations), atomic_load(&frees)};
    for (int v = 0; v < 2; v++) {
        char digits[24];
        int d = 0;
        unsigned long x = values[v];
        do { digits[d++] = (char)('0' + x % 10); x /= 10; } while (x);
        while (d) line[n++] = digits[--d];
        line[n++] = v == 0 ? ' ' : '\n';
    }
    (void)!write(fd, line, n);
    close(fd);
}

__attribute__((constructor)) static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = report;
    action.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &action, NULL);
}
