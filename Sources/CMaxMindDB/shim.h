#ifndef CLARM_CMAXMINDDB_SHIM_H
#define CLARM_CMAXMINDDB_SHIM_H
#include <maxminddb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* A UTF-8 string inside the database's mapping; length 0 when absent. */
typedef struct {
    const char *bytes;
    uint32_t length;
} clarm_mmdb_text;

typedef struct {
    clarm_mmdb_text country, region, city;
} clarm_mmdb_place;

/* The string at `path`, or nothing. A path the record does not have (no subdivisions, a map where an array
 * was expected) is no error; damaged data is, and is returned. */
static inline int clarm_mmdb_text_at(MMDB_entry_s *entry, const char *const *path, clarm_mmdb_text *text) {
    MMDB_entry_data_s data;
    text->bytes = NULL;
    text->length = 0;
    int error = MMDB_aget_value(entry, &data, path);
    if (error == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) return MMDB_SUCCESS;
    if (error != MMDB_SUCCESS) return error;
    if (data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING) {
        text->bytes = data.utf8_string;
        text->length = data.data_size;
    }
    return MMDB_SUCCESS;
}

/* The country's ISO code, the first subdivision's and the city's English names of a data record. The variadic
 * MMDB_get_value is out of Swift's reach, so the paths are walked here. */
static inline int clarm_mmdb_place_of(MMDB_entry_s *entry, clarm_mmdb_place *place) {
    static const char *const country[] = {"country", "iso_code", NULL};
    static const char *const region[] = {"subdivisions", "0", "names", "en", NULL};
    static const char *const city[] = {"city", "names", "en", NULL};
    int error = clarm_mmdb_text_at(entry, country, &place->country);
    if (error == MMDB_SUCCESS) error = clarm_mmdb_text_at(entry, region, &place->region);
    if (error == MMDB_SUCCESS) error = clarm_mmdb_text_at(entry, city, &place->city);
    if (error != MMDB_SUCCESS) memset(place, 0, sizeof *place);
    return error;
}

/* The places of recently found records, by record: walking the three paths of a record costs several times the
 * search tree walk that finds it (docs/BENCHMARKS.md, "GeoIP lookups"), and clients cluster on few records.
 * Direct-mapped; one per event loop (not shared between threads). The database never changes while it is open,
 * so an entry never goes stale. */
#define CLARM_MMDB_CACHE_SLOTS 1024
typedef struct {
    uint32_t keys[CLARM_MMDB_CACHE_SLOTS]; /* the record's data offset + 1; 0 for an empty slot */
    clarm_mmdb_place places[CLARM_MMDB_CACHE_SLOTS];
} clarm_mmdb_cache;

/* Locates a 16-byte address (given as IPv4 when `ipv4` is set: its last 4 bytes), through `cache` when not NULL.
 * Returns the MMDB error (MMDB_SUCCESS when the lookup ran, found or not); `place` is empty unless something was
 * found. */
static inline int clarm_mmdb_locate(const MMDB_s *db, clarm_mmdb_cache *cache, const uint8_t *address, int ipv4,
                                    clarm_mmdb_place *place) {
    memset(place, 0, sizeof *place);
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof storage);
    if (ipv4) {
        struct sockaddr_in *in = (struct sockaddr_in *)&storage;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, address + 12, 4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&storage;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, address, 16);
    }
    int error = MMDB_SUCCESS;
    MMDB_lookup_result_s result = MMDB_lookup_sockaddr(db, (const struct sockaddr *)&storage, &error);
    if (error != MMDB_SUCCESS || !result.found_entry) return error;
    if (cache == NULL) return clarm_mmdb_place_of(&result.entry, place);
    uint32_t key = result.entry.offset + 1;
    uint32_t slot = (key * 2654435761u) >> 22; /* the top 10 bits of a multiplicative hash: 1024 slots */
    if (cache->keys[slot] == key) {
        *place = cache->places[slot];
        return MMDB_SUCCESS;
    }
    error = clarm_mmdb_place_of(&result.entry, place);
    if (error == MMDB_SUCCESS) {
        cache->keys[slot] = key;
        cache->places[slot] = *place;
    }
    return error;
}
#endif
