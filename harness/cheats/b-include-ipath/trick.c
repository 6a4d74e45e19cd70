/* cheat: the reference through the include path: chapters/common/../../solutions/... */
#include "../../solutions/01-blocking/blocking.c"
/* (the skeleton's functions are renamed away by cheat.conf: the reference is the module) */
