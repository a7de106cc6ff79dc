/*
 * failmalloc - an LD_PRELOAD shim that makes every Nth allocation made by
 * milter-policy's own code fail (MP_FAILMALLOC=N), for the allocation
 * failure test (tests/failmalloc.sh). Allocations that libraries make for
 * themselves (libc inside strdup, PCRE2, libspf2, OpenSSL...) are left
 * alone: the caller's address must lie in the main executable, where all
 * of the project's code is linked. strdup and strndup called by our code
 * count as allocations of ours. MP_FAILMALLOC_AT=K fails only the Kth;
 * MP_FAILMALLOC_TRACE prints a backtrace of each failure.
 *
 * Not for sanitizer builds: ASan replaces the allocator itself.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static uintptr_t exe_lo, exe_hi;
static long every = -1;
static long at = -1;       /* MP_FAILMALLOC_AT: only that allocation (1-based) fails */
static int trace;          /* MP_FAILMALLOC_TRACE: a backtrace per failure */
static atomic_long count;
static char boot[4096];    /* dlsym's own calloc, before the real one is known */
static size_t boot_used;
static int resolving;

static int find_exe(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	/* the first object is the executable */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (exe_lo == 0 || lo < exe_lo)
			exe_lo = lo;
		if (lo + ph->p_memsz > exe_hi)
			exe_hi = lo + ph->p_memsz;
	}
	return 1;
}

static void init(void)
{
	if (real_malloc != NULL || resolving)
		return;
	resolving = 1;
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	dl_iterate_phdr(find_exe, NULL);
	const char *e = getenv("MP_FAILMALLOC");
	every = e != NULL ? atol(e) : 0;
	const char *a1 = getenv("MP_FAILMALLOC_AT");
	at = a1 != NULL ? atol(a1) : -1;
	if (at > 0)
		every = at;
	trace = getenv("MP_FAILMALLOC_TRACE") != NULL;
	resolving = 0;
}

/* Whether this allocation, called from caller, fails. */
static int fail_now(void *caller)
{
	uintptr_t a = (uintptr_t)caller;

	if (every <= 0 || a < exe_lo || a >= exe_hi)
		return 0;
	long k = atomic_fetch_add(&count, 1);
	if (at > 0 ? k != at - 1 : k % every != every - 1)
		return 0;
	if (trace) {
		void *frames[12];
		int n = backtrace(frames, 12);
		backtrace_symbols_fd(frames, n, 2);
		(void)!write(2, "--\n", 3);
	}
	return 1;
}

void *malloc(size_t n)
{
	init();
	if (real_malloc == NULL)
		return NULL;
	if (fail_now(__builtin_return_address(0)))
		return NULL;
	return real_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	if (real_calloc == NULL) {
		if (resolving) {
			/* dlsym allocates while it resolves: a static slab */
			size_t want = (n * m + 15) & ~(size_t)15;
			if (boot_used + want > sizeof(boot))
				return NULL;
			void *p = boot + boot_used;
			boot_used += want;
			return p;
		}
		init();
	}
	if (fail_now(__builtin_return_address(0)))
		return NULL;
	return real_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	init();
	if (fail_now(__builtin_return_address(0)))
		return NULL;
	return real_realloc(p, n);
}

void free(void *p)
{
	static void (*real_free)(void *);

	if ((char *)p >= boot && (char *)p < boot + sizeof(boot))
		return;
	if (real_free == NULL) {
		init();
		real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	}
	real_free(p);
}

char *strdup(const char *s)
{
	init();
	if (fail_now(__builtin_return_address(0)))
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = real_malloc(n);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

char *strndup(const char *s, size_t max)
{
	init();
	if (fail_now(__builtin_return_address(0)))
		return NULL;
	size_t n = strnlen(s, max);
	char *p = real_malloc(n + 1);
	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}
