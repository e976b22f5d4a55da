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

#endif
