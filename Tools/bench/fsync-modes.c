// What one small commit's fdatasync costs on this file system, by how the log file was made: 0 grows by
// appends (every fdatasync also journals the new size), 1 fallocate'd (journals extents turned written),
// 2 zero-filled and fdatasynced ahead (data only: Clarm's spare logs, docs/FORMAT.md).
// Usage: cc -O2 -o /tmp/fsync-modes Tools/bench/fsync-modes.c && /tmp/fsync-modes DIR [commits] [bytes]
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: fsync-modes DIR [commits] [bytes]\n"); return 2; }
    int commits = argc > 2 ? atoi(argv[2]) : 2000, size = argc > 3 ? atoi(argv[3]) : 4000;
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync-modes.dat", argv[1]);
    const char *names[] = {"appending", "fallocate", "zero-filled"};
    char *record = malloc(size), *zeros = calloc(1, 1 << 20);
    memset(record, 'x', size);
    for (int round = 0; round < 2; round++) {
        for (int mode = 0; mode < 3; mode++) {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            long total = (long)commits * size + 4096;
            if (mode == 1 && fallocate(fd, 0, 0, total) != 0) perror("fallocate");
            if (mode == 2) {
                for (long o = 0; o < total; o += 1 << 20) if (write(fd, zeros, 1 << 20) < 0) perror("write");
                fdatasync(fd);
                lseek(fd, 0, SEEK_SET);
            }
            double start = now();
            for (int i = 0; i < commits; i++) {
                if (write(fd, record, size) != size) perror("write");
                fdatasync(fd);
            }
            printf("%-12s %7.1f us per %d-byte write + fdatasync\n", names[mode], (now() - start) / commits * 1e6, size);
            close(fd);
            unlink(path);
        }
    }
    return 0;
}
