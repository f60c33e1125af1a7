#ifndef QUNBO_CLZ4_SHIM_H
#define QUNBO_CLZ4_SHIM_H
#include <lz4.h>
#endif
