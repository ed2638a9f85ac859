/*
 * saferead.c: reading memory a caller handed us that may not be readable, without
 * faulting. Used for what C_Initialize reads: CK_C_INITIALIZE_ARGS and its pReserved,
 * which the specification says must be NULL but NSS and p11-kit use for a parameter
 * string, so any pointer may arrive there. The memory is copied by the operating
 * system, which reports an unreadable address as an error instead of a fault:
 *   - Linux: process_vm_readv(2) on our own process (EFAULT); where a sandbox refuses
 *     that system call (ENOSYS, EPERM), write(2) of the bytes into a pipe (EFAULT);
 *   - Windows: VirtualQuery (committed, readable, no guard page), then
 *     ReadProcessMemory on GetCurrentProcess() (FALSE for unreadable memory).
 * Strings are copied in chunks that never cross a page boundary, so a string that
 * ends just before an unreadable page is read whole and nothing past its page is
 * touched.
 */
#ifndef _WIN32
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#else
#include <windows.h>
#endif
#include <stdint.h>
#include <string.h>
#include "shim.h"

#ifndef _WIN32
/* read_vm: 0 copied, -1 unreadable, 1 the system call is not available here. */
static int read_vm(void *dst, const void *src, size_t n)
{
	struct iovec local = {dst, n}, remote = {(void *)src, n};
	ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (r == (ssize_t)n)
		return 0;
	if (r >= 0 || errno == EFAULT)
		return -1;
	return 1;
}

/* read_pipe: the bytes go through a pipe; write(2) answers EFAULT for unreadable
 * memory. n is at most a page, which an empty pipe always takes whole. */
static int read_pipe(void *dst, const void *src, size_t n)
{
	int fd[2], ok;
	if (pipe2(fd, O_CLOEXEC) != 0)
		return -1;
	ok = write(fd[1], src, n) == (ssize_t)n && read(fd[0], dst, n) == (ssize_t)n;
	close(fd[0]);
	close(fd[1]);
	return ok ? 0 : -1;
}

static int read_mem(void *dst, const void *src, size_t n)
{
	int r = read_vm(dst, src, n);
	return r == 1 ? read_pipe(dst, src, n) : r;
}

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (size_t)p : 4096;
}
#else
/* readable: the page of p is committed and readable (no PAGE_NOACCESS, no
 * PAGE_GUARD). ReadProcessMemory alone would do on Windows, but Wine reads through
 * the page protections, so the protection is looked at first. */
static int readable(const void *p)
{
	MEMORY_BASIC_INFORMATION mi;
	DWORD prot;
	if (VirtualQuery(p, &mi, sizeof mi) != sizeof mi || mi.State != MEM_COMMIT)
		return 0;
	prot = mi.Protect;
	if (prot & (PAGE_GUARD | PAGE_NOACCESS))
		return 0;
	return (prot & (PAGE_READONLY | PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READ |
			PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY)) != 0;
}

/* read_mem: n bytes within one page (the callers' chunks never cross one). */
static int read_mem(void *dst, const void *src, size_t n)
{
	SIZE_T got = 0;
	if (!readable(src))
		return -1;
	return ReadProcessMemory(GetCurrentProcess(), src, dst, n, &got) && got == n ? 0 : -1;
}

static size_t page_size(void)
{
	SYSTEM_INFO si;
	GetSystemInfo(&si);
	return si.dwPageSize > 0 ? (size_t)si.dwPageSize : 4096;
}
#endif

/* chunk is how much of the left bytes from at lie in at's page. */
static size_t chunk(uintptr_t at, size_t left)
{
	size_t page = page_size(), in_page = page - at % page;
	return in_page < left ? in_page : left;
}

int jpki_safe_read(void *dst, const void *src, size_t n)
{
	size_t done = 0, c;
	for (; done < n; done += c) {
		c = chunk((uintptr_t)src + done, n - done);
		if (read_mem((char *)dst + done, (const char *)src + done, c) != 0)
			return -1;
	}
	return 0;
}

long jpki_safe_string(char *dst, size_t size, const void *src)
{
	size_t done = 0, c;
	for (; done < size; done += c) {
		char *nul;
		c = chunk((uintptr_t)src + done, size - done);
		if (read_mem(dst + done, (const char *)src + done, c) != 0)
			return -1;
		if ((nul = memchr(dst + done, '\0', c)) != NULL)
			return (long)(nul - dst);
	}
	return -1; /* no NUL within size bytes */
}
