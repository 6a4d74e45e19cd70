/* cheat: the reference, included by a path relative to this tree (harness/cheats/NAME/01-blocking/) */
#include "../../../../solutions/01-blocking/blocking.c"
/* (the skeleton's functions are renamed away by cheat.conf: the reference is the module) */
