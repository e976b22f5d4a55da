#ifndef CLARM_CLZ4_SHIM_H
#define CLARM_CLZ4_SHIM_H
#include <lz4.h>
#endif
