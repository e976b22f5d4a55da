// What locating one client costs the event loop with --geoip: the gateway's own lookup (clarm_mmdb_locate of
// Sources/CMaxMindDB/shim.h: the search tree walk, then country, first subdivision and city), timed over the
// addresses given, round robin; without the per-loop cache of records, then with it (as the gateway runs).
// Usage: cc -O2 -I Sources/CMaxMindDB -o /tmp/geoip-lookup Tools/bench/geoip-lookup.c -lmaxminddb
//        /tmp/geoip-lookup FILE.mmdb ADDRESS... [-n lookups]
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "shim.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: geoip-lookup FILE.mmdb ADDRESS... [-n lookups]\n"); return 2; }
    MMDB_s db;
    int status = MMDB_open(argv[1], MMDB_MODE_MMAP, &db);
    if (status != MMDB_SUCCESS) { fprintf(stderr, "%s: %s\n", argv[1], MMDB_strerror(status)); return 1; }
    long lookups = 2000000;
    uint8_t addresses[64][16];
    int ipv4[64], count = 0;
    for (int i = 2; i < argc && count < 64; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) { lookups = atol(argv[++i]); continue; }
        memset(addresses[count], 0, 16);
        if (inet_pton(AF_INET, argv[i], addresses[count] + 12) == 1) {
            addresses[count][10] = addresses[count][11] = 0xFF;  // IPv4-mapped, as the gateway holds it
            ipv4[count++] = 1;
        } else if (inet_pton(AF_INET6, argv[i], addresses[count]) == 1) {
            ipv4[count++] = 0;
        } else {
            fprintf(stderr, "not an address: %s\n", argv[i]);
            return 2;
        }
    }
    if (count == 0) return 2;
    clarm_mmdb_cache *cache = calloc(1, sizeof *cache);
    for (int cached = 0; cached <= 1; cached++) {
        clarm_mmdb_place place;
        long found = 0;
        double started = now();
        for (long i = 0; i < lookups; i++) {
            clarm_mmdb_locate(&db, cached ? cache : NULL, addresses[i % count], ipv4[i % count], &place);
            found += place.country.length > 0;
        }
        double elapsed = now() - started;
        printf("%s: %.0f ns per lookup over %ld lookups of %d addresses (%ld found)\n", cached ? "cached" : "uncached",
               elapsed * 1e9 / lookups, lookups, count, found);
    }
    free(cache);
    MMDB_close(&db);
    return 0;
}
