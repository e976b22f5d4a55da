// Everything lives in the header; this file gives SwiftPM a C source to compile.
#include "CClarmLinux.h"
