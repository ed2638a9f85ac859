/*
 * p11drv: the benchmark's PKCS#11 driver (issue 8). It loads a module with dlopen,
 * as a host application does, runs one job and prints what each phase cost:
 *
 *   phase NAME LOG0 LOG1 WALL_NS CPU_NS
 *
 * LOG0/LOG1 are the size of the APDU log (BENCH_APDU_LOG, pcscd's --apdu log)
 * before and after the phase, so the caller counts the APDUs sent in between;
 * -1 when no log is given. CPU_NS is the process's CPU time (all threads, the
 * module's own included). It is a separate program so that a Go module is never
 * loaded into a Go process.
 *
 * Usage: p11drv MODULE JOB [ARGS]
 *   load              dlopen + C_GetFunctionList + C_Initialize + C_GetSlotList(TRUE)
 *   list              C_GetSlotList, then C_GetSlotInfo and C_GetTokenInfo per slot
 *   objects           open a session on token 0, find every object, read its label
 *   login             open a session on token 0, then C_Login alone
 *   sign N            C_Login, one signature ("sign-cold"), then N ("sign-warm");
 *                     then "threads N" (threads in /proc/self/task)
 *   poll N MS         C_GetTokenInfo once ("poll-first"), then N times MS ms apart
 *   reinsert          list ("list"), print READY, wait for a line on stdin, list again
 *   conc T N [R]      C_Login, then R rounds (default 1) of: one thread signing T*N
 *                     times ("conc-1"), then T threads each signing N times in its
 *                     own session ("conc-t"); rounds alternate which goes first
 *   idle wait|loaded S the module doing nothing for S seconds, after C_GetSlotList:
 *                     "wait" with a thread blocked in C_WaitForSlotEvent(0) (called
 *                     again after each return, as NSS does; pending events drained
 *                     first with CKF_DONT_BLOCK), "loaded" with none; the window
 *                     starts 1 s after C_GetSlotList (or the waiter's start). Prints
 *                       idle MODE LOG0 LOG1 WALL_NS CPU_NS NVCSW NIVCSW THREADS0 THREADS1 RETURNS
 *                     (context switches from getrusage(RUSAGE_SELF): every thread;
 *                     THREADS0/1: threads in /proc/self/task before the waiter
 *                     starts / at the end of the window). With "wait" it then prints
 *                       event REALTIME_NS SLOT RV
 *                     at each return of the waiter until a line "quit" on stdin, then
 *                     C_Finalize (which must release the waiter).
 * Environment: BENCH_PIN (default 1234), BENCH_TOKEN (index among slots with a
 * token, default 0), BENCH_APDU_LOG.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11.h"

static CK_FUNCTION_LIST_PTR p11;
static int threads(void);
static const char *apdu_log;

static long long now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long log_size(void)
{
	struct stat st;
	if (apdu_log == NULL || stat(apdu_log, &st) != 0)
		return -1;
	return (long long)st.st_size;
}

/* A phase being measured. */
struct phase {
	const char *name;
	long long log0, wall0, cpu0;
};

static struct phase begin(const char *name)
{
	struct phase p = {name, log_size(), now_ns(CLOCK_MONOTONIC), now_ns(CLOCK_PROCESS_CPUTIME_ID)};
	return p;
}

static void end(struct phase p)
{
	long long wall = now_ns(CLOCK_MONOTONIC) - p.wall0;
	long long cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - p.cpu0;
	printf("phase %s %lld %lld %lld %lld\n", p.name, p.log0, log_size(), wall, cpu);
	fflush(stdout);
}

static void die(const char *what, CK_RV rv)
{
	printf("FAIL %s: CKR 0x%lx\n", what, (unsigned long)rv);
	fflush(stdout);
	exit(1);
}

#define CALL(f, args)                       \
	do {                                    \
		CK_RV rv_ = p11->f args;            \
		if (rv_ != CKR_OK)                  \
			die(#f, rv_);                   \
	} while (0)

static void load(const char *path)
{
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		printf("FAIL dlopen: %s\n", dlerror());
		exit(1);
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	if (gfl == NULL) {
		printf("FAIL dlsym C_GetFunctionList\n");
		exit(1);
	}
	CK_RV rv = gfl(&p11);
	if (rv != CKR_OK)
		die("C_GetFunctionList", rv);
	CK_C_INITIALIZE_ARGS args;
	memset(&args, 0, sizeof args);
	args.flags = CKF_OS_LOCKING_OK;
	CALL(C_Initialize, (&args));
}

/* slots returns the slots (with a token when present is set) in list; n in/out. */
static void slots(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *n)
{
	CALL(C_GetSlotList, (present, list, n));
}

/* token returns the slot of the BENCH_TOKEN-th slot with a token. */
static CK_SLOT_ID token(void)
{
	CK_SLOT_ID list[32];
	CK_ULONG n = 32;
	const char *e = getenv("BENCH_TOKEN");
	CK_ULONG want = e ? strtoul(e, NULL, 10) : 0;
	slots(CK_TRUE, list, &n);
	if (want >= n) {
		printf("FAIL no token %lu (%lu slots with a token)\n", (unsigned long)want, (unsigned long)n);
		exit(1);
	}
	return list[want];
}

/* list does what `pkcs11-tool -L` does: every slot, its info and its token's. */
static void list(void)
{
	CK_SLOT_ID ids[32];
	CK_ULONG n = 32, i;
	slots(CK_FALSE, ids, &n);
	for (i = 0; i < n; i++) {
		CK_SLOT_INFO si;
		CK_TOKEN_INFO ti;
		CALL(C_GetSlotInfo, (ids[i], &si));
		if (si.flags & CKF_TOKEN_PRESENT)
			CALL(C_GetTokenInfo, (ids[i], &ti));
	}
}

static CK_SESSION_HANDLE open_session(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE h;
	CALL(C_OpenSession, (slot, CKF_SERIAL_SESSION, NULL, NULL, &h));
	return h;
}

static void login(CK_SESSION_HANDLE h)
{
	const char *pin = getenv("BENCH_PIN");
	if (pin == NULL)
		pin = "1234";
	CALL(C_Login, (h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
}

static CK_OBJECT_HANDLE private_key(CK_SESSION_HANDLE h)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof cls};
	CK_OBJECT_HANDLE k;
	CK_ULONG n = 0;
	CALL(C_FindObjectsInit, (h, &t, 1));
	CALL(C_FindObjects, (h, &k, 1, &n));
	CALL(C_FindObjectsFinal, (h));
	if (n != 1) {
		printf("FAIL no private key\n");
		exit(1);
	}
	return k;
}

static const unsigned char data[] = "the data to sign for the benchmark";

/* sign_once signs data with SHA256-RSA-PKCS; it returns the CKR. */
static CK_RV sign_once(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k)
{
	CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
	unsigned char sig[512];
	CK_ULONG n = sizeof sig;
	CK_RV rv = p11->C_SignInit(h, &m, k);
	if (rv != CKR_OK)
		return rv;
	return p11->C_Sign(h, (CK_BYTE_PTR)data, sizeof data - 1, sig, &n);
}

static void job_objects(void)
{
	CK_SESSION_HANDLE h = open_session(token());
	struct phase p = begin("objects");
	CK_OBJECT_HANDLE objs[64];
	CK_ULONG n = 0, i;
	CALL(C_FindObjectsInit, (h, NULL, 0));
	CALL(C_FindObjects, (h, objs, 64, &n));
	CALL(C_FindObjectsFinal, (h));
	for (i = 0; i < n; i++) {
		char label[256];
		CK_ATTRIBUTE a = {CKA_LABEL, label, sizeof label};
		CK_RV rv = p11->C_GetAttributeValue(h, objs[i], &a, 1);
		if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID)
			die("C_GetAttributeValue", rv);
	}
	end(p);
	printf("objects %lu\n", (unsigned long)n);
}

static void job_sign(int n)
{
	CK_SESSION_HANDLE h = open_session(token());
	struct phase p = begin("login");
	login(h);
	end(p);
	p = begin("sign-cold");
	CK_OBJECT_HANDLE k = private_key(h);
	CK_RV rv = sign_once(h, k);
	if (rv != CKR_OK)
		die("first signature", rv);
	end(p);
	for (int i = 0; i < n; i++) {
		p = begin("sign-warm");
		if ((rv = sign_once(h, k)) != CKR_OK)
			die("signature", rv);
		end(p);
	}
	printf("threads %d\n", threads());
}

static void job_poll(int n, int ms)
{
	CK_SLOT_ID slot = token();
	CK_TOKEN_INFO ti;
	struct phase p = begin("poll-first");
	CALL(C_GetTokenInfo, (slot, &ti));
	end(p);
	for (int i = 0; i < n; i++) {
		usleep((useconds_t)ms * 1000);
		p = begin("poll");
		CALL(C_GetTokenInfo, (slot, &ti));
		end(p);
	}
}

static void job_reinsert(void)
{
	struct phase p = begin("list");
	list();
	end(p);
	printf("READY\n");
	fflush(stdout);
	char line[64];
	if (fgets(line, sizeof line, stdin) == NULL) {
		printf("FAIL no go-ahead on stdin\n");
		exit(1);
	}
	p = begin("relist");
	list();
	end(p);
}

struct worker {
	CK_SLOT_ID slot;
	CK_OBJECT_HANDLE key;
	int n, errors;
	pthread_barrier_t *opened, *start;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	CK_SESSION_HANDLE h;
	CK_RV rv = p11->C_OpenSession(w->slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
	pthread_barrier_wait(w->opened);
	pthread_barrier_wait(w->start);
	if (rv != CKR_OK) {
		w->errors = w->n;
		return NULL;
	}
	for (int i = 0; i < w->n; i++)
		if (sign_once(h, w->key) != CKR_OK)
			w->errors++;
	p11->C_CloseSession(h);
	return NULL;
}

/* run_threads signs t*n times from t threads; it prints the phase and the errors. */
static void run_threads(const char *name, CK_SLOT_ID slot, CK_OBJECT_HANDLE k, int t, int n)
{
	pthread_t th[64];
	struct worker w[64];
	pthread_barrier_t opened, start;
	pthread_barrier_init(&opened, NULL, (unsigned)t + 1);
	pthread_barrier_init(&start, NULL, (unsigned)t + 1);
	for (int i = 0; i < t; i++) {
		w[i] = (struct worker){slot, k, n, 0, &opened, &start};
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	pthread_barrier_wait(&opened); /* sessions are open: time the signatures only */
	struct phase p = begin(name);
	pthread_barrier_wait(&start);
	int errors = 0;
	for (int i = 0; i < t; i++) {
		pthread_join(th[i], NULL);
		errors += w[i].errors;
	}
	end(p);
	printf("errors %s %d\n", name, errors);
	pthread_barrier_destroy(&opened);
	pthread_barrier_destroy(&start);
}

static void job_conc(int t, int n, int rounds)
{
	if (t < 1 || t > 64 || n < 1) {
		printf("FAIL conc: 1..64 threads\n");
		exit(1);
	}
	if (rounds < 1)
		rounds = 1;
	CK_SLOT_ID slot = token();
	CK_SESSION_HANDLE h = open_session(slot);
	login(h);
	CK_OBJECT_HANDLE k = private_key(h);
	CK_RV rv = sign_once(h, k); /* warm: certificates read, key EF selected */
	if (rv != CKR_OK)
		die("first signature", rv);
	/* Alternating the order (1 then T, T then 1, ...) spreads slow drifts of
	 * the machine over both sides of the comparison. */
	for (int r = 0; r < rounds; r++) {
		if (r % 2 == 0) {
			run_threads("conc-1", slot, k, 1, t * n);
			run_threads("conc-t", slot, k, t, n);
		} else {
			run_threads("conc-t", slot, k, t, n);
			run_threads("conc-1", slot, k, 1, t * n);
		}
	}
}

/* threads counts the process's threads (/proc/self/task). */
static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static long idle_returns;
static int idle_report; /* print an event line at each return */

static void *waiter(void *arg)
{
	(void)arg;
	for (;;) {
		CK_SLOT_ID slot = (CK_SLOT_ID)-1;
		CK_RV rv = p11->C_WaitForSlotEvent(0, &slot, NULL);
		long long at = now_ns(CLOCK_REALTIME);
		pthread_mutex_lock(&idle_mu);
		idle_returns++;
		if (idle_report) {
			printf("event %lld %lu 0x%lx\n", at, (unsigned long)slot, (unsigned long)rv);
			fflush(stdout);
		}
		pthread_mutex_unlock(&idle_mu);
		if (rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_FUNCTION_NOT_SUPPORTED)
			return NULL;
		if (rv != CKR_OK)
			usleep(100000); /* an error: do not spin */
	}
}

static void job_idle(const char *mode, int secs)
{
	int wait = strcmp(mode, "wait") == 0;
	CK_SLOT_ID ids[32];
	CK_ULONG n = 32;
	slots(CK_TRUE, ids, &n);
	int t0 = threads();
	if (wait) {
		CK_SLOT_ID slot;
		for (int i = 0; i < 16; i++)
			if (p11->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL) != CKR_OK)
				break;
		pthread_t th;
		pthread_create(&th, NULL, waiter, NULL);
		pthread_detach(th);
	}
	sleep(1); /* the module settles: the waiter into its wait, the work C_GetSlotList left */
	struct rusage r0, r1;
	pthread_mutex_lock(&idle_mu);
	long ret0 = idle_returns;
	pthread_mutex_unlock(&idle_mu);
	long long log0 = log_size(), wall0 = now_ns(CLOCK_MONOTONIC), cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	getrusage(RUSAGE_SELF, &r0);
	sleep((unsigned)secs);
	getrusage(RUSAGE_SELF, &r1);
	long long cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0, wall = now_ns(CLOCK_MONOTONIC) - wall0;
	int t1 = threads();
	pthread_mutex_lock(&idle_mu);
	printf("idle %s %lld %lld %lld %lld %ld %ld %d %d %ld\n", mode, log0, log_size(), wall, cpu,
	       r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw, t0, t1, idle_returns - ret0);
	fflush(stdout);
	idle_report = wait;
	pthread_mutex_unlock(&idle_mu);
	if (!wait)
		return;
	char line[64];
	while (fgets(line, sizeof line, stdin) != NULL && strncmp(line, "quit", 4) != 0)
		;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: p11drv MODULE load|list|objects|login|sign N|poll N MS|reinsert|conc T N [R]|idle wait|loaded S\n");
		return 2;
	}
	apdu_log = getenv("BENCH_APDU_LOG");
	const char *job = argv[2];
	int a = argc > 3 ? atoi(argv[3]) : 0, b = argc > 4 ? atoi(argv[4]) : 0, c = argc > 5 ? atoi(argv[5]) : 1;
	if (strcmp(job, "load") == 0) {
		struct phase p = begin("load");
		load(argv[1]);
		CK_SLOT_ID ids[32];
		CK_ULONG n = 32;
		slots(CK_TRUE, ids, &n);
		end(p);
	} else {
		load(argv[1]);
		if (strcmp(job, "list") == 0) {
			struct phase p = begin("list");
			list();
			end(p);
		} else if (strcmp(job, "objects") == 0) {
			job_objects();
		} else if (strcmp(job, "login") == 0) {
			CK_SESSION_HANDLE h = open_session(token());
			struct phase p = begin("login");
			login(h);
			end(p);
		} else if (strcmp(job, "sign") == 0) {
			job_sign(a);
		} else if (strcmp(job, "poll") == 0) {
			job_poll(a, b);
		} else if (strcmp(job, "reinsert") == 0) {
			job_reinsert();
		} else if (strcmp(job, "conc") == 0) {
			job_conc(a, b, c);
		} else if (strcmp(job, "idle") == 0 && argc > 4) {
			job_idle(argv[3], b);
		} else {
			fprintf(stderr, "p11drv: unknown job %s\n", job);
			return 2;
		}
	}
	CALL(C_Finalize, (NULL));
	printf("ok\n");
	return 0;
}
