#ifndef CLARM_C_LINUX_H
#define CLARM_C_LINUX_H


// Linux system interfaces that Swift's Glibc module does not export.

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

// Declared by glibc only under _GNU_SOURCE, which would make this module's types differ from Glibc's.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

// accept4's address argument is a transparent union in glibc, which Swift cannot form;
// this wrapper takes the plain pointer.
static inline int clarm_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

static inline int clarm_set_tcp_nodelay(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Sets the nice value of the calling thread only: Linux keeps it per thread, and `who` 0 names the caller.
#include <sys/resource.h>
static inline int clarm_set_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, 0, nice);
}

// Has glibc map every allocation of at least `bytes` on its own, returning it to the system when freed. Setting
// the threshold also turns off its dynamic adjustment, which raises it (up to 32 MiB) once such a buffer is freed,
// after which large buffers come from the heap arenas, which keep freed memory for good. Returns 1 on success.
#include <malloc.h>
static inline int clarm_pin_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

// CRC-32C with the SSE4.2 `crc32` instruction (shim.c). `state` is the running register, already inverted
// (CRC32C.update inverts before and after). Call only when clarm_crc32c_hardware_available() returned 1.
#include <stddef.h>
#include <stdint.h>
int clarm_crc32c_hardware_available(void);
uint32_t clarm_crc32c_hardware(uint32_t state, const void *bytes, size_t count);

#endif
