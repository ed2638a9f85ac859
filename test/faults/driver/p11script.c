/*
 * p11script: a PKCS#11 host driven line by line, for the fault and stress tests
 * (test/faults, test/stress). It loads a module with dlopen, as a host application
 * does, so that our Go module is never loaded into a Go test process.
 *
 * Usage: p11script MODULE. Requests come on stdin, one per line:
 *
 *   ID COMMAND ARGS...     run COMMAND on the reading thread, then read the next line
 *   &ID COMMAND ARGS...    run COMMAND on a new thread (the next line is read at once)
 *
 * Each command answers with exactly one final line "ID RV [FIELDS...]" (RV in hex);
 * a command may first print data lines "ID + FIELDS...". Numbers in arguments are
 * decimal or 0x-hex; byte strings are hex ("-" for none). Commands:
 *
 *   init | fin | slots 0|1 | tokinfo SLOT | wait 0|1 (1: CKF_DONT_BLOCK)
 *   open SLOT | close H | closeall SLOT | sinfo H | login H PIN | logout H
 *   find H CLASS (-1: empty template) | attr H OBJ TYPE | random H N
 *   signinit H KEY MECH | sign H DATA | signkey H KEY MECH DATA (init + sign)
 *   create H | setattr H OBJ | copy H OBJ | destroy H OBJ | genkey H | initpin H PIN
 *   forkexec OUTFILE PATH ARGS...   fork; the child execs PATH (output to OUTFILE)
 *   atexit                 C_CloseAllSessions on every slot and C_Finalize at exit
 *   exit CODE              exit(CODE) (atexit handlers run)
 *   sleep MS
 *   stress SECONDS THREADS SPEC...  (SPEC is SLOT,PIN,CERTFILE[,CERTFILE]: see stress())
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11.h"

static CK_FUNCTION_LIST_PTR p11;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

#define MAXARGS 64

/* say prints one whole line under the output lock. */
static void say(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

static CK_ULONG num(const char *s)
{
	if (s == NULL)
		return 0;
	if (strcmp(s, "-1") == 0)
		return (CK_ULONG)-1;
	return (CK_ULONG)strtoull(s, NULL, 0);
}

/* unhex decodes s into a new buffer; *n gets its length. */
static CK_BYTE *unhex(const char *s, CK_ULONG *n)
{
	size_t l = (s == NULL || strcmp(s, "-") == 0) ? 0 : strlen(s) / 2;
	CK_BYTE *b = malloc(l + 1);
	for (size_t i = 0; i < l; i++) {
		unsigned v = 0;
		sscanf(s + 2 * i, "%2x", &v);
		b[i] = (CK_BYTE)v;
	}
	*n = l;
	return b;
}

/* tohex returns a new string with b in hex ("-" when empty). */
static char *tohex(const CK_BYTE *b, CK_ULONG n)
{
	char *s = malloc(2 * n + 2);
	for (CK_ULONG i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02X", b[i]);
	if (n == 0)
		strcpy(s, "-");
	return s;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- atexit: what NSS does. */

static CK_SLOT_ID exit_slots[64];
static CK_ULONG exit_nslots;

static void at_exit(void)
{
	CK_RV rv1 = CKR_OK, rv2;
	for (CK_ULONG i = 0; i < exit_nslots; i++) {
		CK_RV r = p11->C_CloseAllSessions(exit_slots[i]);
		if (r != CKR_OK)
			rv1 = r;
	}
	rv2 = p11->C_Finalize(NULL);
	say("atexit 0x%lx 0x%lx", (unsigned long)rv1, (unsigned long)rv2);
}

/* ---- single commands. */

static CK_RV do_find(const char *id, CK_SESSION_HANDLE h, CK_ULONG cls, CK_OBJECT_HANDLE *objs,
		     CK_ULONG *n)
{
	CK_ATTRIBUTE t[1] = {{CKA_CLASS, &cls, sizeof cls}};
	CK_ULONG max = *n;
	CK_RV rv = p11->C_FindObjectsInit(h, t, cls == (CK_ULONG)-1 ? 0 : 1);
	(void)id;
	*n = 0;
	if (rv != CKR_OK)
		return rv;
	rv = p11->C_FindObjects(h, objs, max, n);
	CK_RV rv2 = p11->C_FindObjectsFinal(h);
	return rv != CKR_OK ? rv : rv2;
}

/* get_attr reads one attribute into a new buffer (*len; NULL on error). */
static CK_RV get_attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ULONG type, CK_BYTE **val,
		      CK_ULONG *len)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	*val = NULL;
	*len = 0;
	CK_RV rv = p11->C_GetAttributeValue(h, o, &a, 1);
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > (1 << 20))
		return CKR_GENERAL_ERROR;
	a.pValue = malloc(a.ulValueLen + 1);
	rv = p11->C_GetAttributeValue(h, o, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

static CK_RV do_sign(CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG n, CK_BYTE *sig,
		     CK_ULONG *siglen)
{
	return p11->C_Sign(h, (CK_BYTE_PTR)data, n, sig, siglen);
}

static void forkexec(const char *id, int argc, char **argv)
{
	if (argc < 3) {
		say("%s 0x%lx usage", id, (unsigned long)CKR_ARGUMENTS_BAD);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		FILE *f = freopen(argv[1], "w", stdout);
		if (f == NULL)
			_exit(126);
		dup2(fileno(stdout), 2);
		execv(argv[2], argv + 2);
		_exit(127);
	}
	if (pid < 0) {
		say("%s 0x%lx fork-failed", id, (unsigned long)CKR_GENERAL_ERROR);
		return;
	}
	int status = 0;
	double t0 = now();
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now() - t0 > 60) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			say("%s 0x%lx hung", id, (unsigned long)CKR_GENERAL_ERROR);
			return;
		}
		usleep(10000);
	}
	say("%s 0x0 %d %.3f", id, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
	    now() - t0);
}

/* run executes one command and prints its final line. */
static void run(const char *id, int argc, char **argv)
{
	const char *c = argv[0];
	CK_RV rv = CKR_OK;
	double t0 = now();
#define A(i) (argc > (i) ? argv[i] : NULL)
	if (strcmp(c, "init") == 0) {
		CK_C_INITIALIZE_ARGS a;
		memset(&a, 0, sizeof a);
		a.flags = CKF_OS_LOCKING_OK;
		rv = p11->C_Initialize(&a);
	} else if (strcmp(c, "fin") == 0) {
		rv = p11->C_Finalize(NULL);
	} else if (strcmp(c, "slots") == 0) {
		CK_SLOT_ID s[64];
		CK_ULONG n = 64;
		char buf[64 * 24] = "";
		rv = p11->C_GetSlotList(num(A(1)) ? CK_TRUE : CK_FALSE, s, &n);
		for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++)
			sprintf(buf + strlen(buf), " %lu", (unsigned long)s[i]);
		say("%s 0x%lx%s", id, (unsigned long)rv, buf);
		return;
	} else if (strcmp(c, "tokinfo") == 0) {
		CK_TOKEN_INFO ti;
		memset(&ti, 0, sizeof ti);
		rv = p11->C_GetTokenInfo(num(A(1)), &ti);
		say("%s 0x%lx 0x%lx %.16s", id, (unsigned long)rv, (unsigned long)ti.flags,
		    rv == CKR_OK ? (char *)ti.serialNumber : "-");
		return;
	} else if (strcmp(c, "wait") == 0) {
		CK_SLOT_ID s = (CK_SLOT_ID)-1;
		rv = p11->C_WaitForSlotEvent(num(A(1)) ? CKF_DONT_BLOCK : 0, &s, NULL);
		say("%s 0x%lx %ld %.3f", id, (unsigned long)rv, (long)s, now() - t0);
		return;
	} else if (strcmp(c, "open") == 0) {
		CK_SESSION_HANDLE h = 0;
		rv = p11->C_OpenSession(num(A(1)), CKF_SERIAL_SESSION, NULL, NULL, &h);
		say("%s 0x%lx %lu", id, (unsigned long)rv, (unsigned long)h);
		return;
	} else if (strcmp(c, "openrw") == 0) {
		CK_SESSION_HANDLE h = 0;
		rv = p11->C_OpenSession(num(A(1)), CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
		say("%s 0x%lx %lu", id, (unsigned long)rv, (unsigned long)h);
		return;
	} else if (strcmp(c, "close") == 0) {
		rv = p11->C_CloseSession(num(A(1)));
	} else if (strcmp(c, "closeall") == 0) {
		rv = p11->C_CloseAllSessions(num(A(1)));
	} else if (strcmp(c, "sinfo") == 0) {
		CK_SESSION_INFO si;
		memset(&si, 0, sizeof si);
		rv = p11->C_GetSessionInfo(num(A(1)), &si);
		say("%s 0x%lx %lu %lu", id, (unsigned long)rv, (unsigned long)si.state,
		    (unsigned long)si.slotID);
		return;
	} else if (strcmp(c, "login") == 0) {
		const char *pin = A(2) ? A(2) : "";
		rv = p11->C_Login(num(A(1)), CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	} else if (strcmp(c, "logout") == 0) {
		rv = p11->C_Logout(num(A(1)));
	} else if (strcmp(c, "find") == 0) {
		CK_OBJECT_HANDLE o[64];
		CK_ULONG n = 64;
		char buf[64 * 24] = "";
		rv = do_find(id, num(A(1)), num(A(2)), o, &n);
		for (CK_ULONG i = 0; i < n; i++)
			sprintf(buf + strlen(buf), " %lu", (unsigned long)o[i]);
		say("%s 0x%lx%s", id, (unsigned long)rv, buf);
		return;
	} else if (strcmp(c, "attr") == 0) {
		CK_BYTE *v;
		CK_ULONG n;
		rv = get_attr(num(A(1)), num(A(2)), num(A(3)), &v, &n);
		char *hx = tohex(v, n);
		say("%s 0x%lx %s %.3f", id, (unsigned long)rv, hx, now() - t0);
		free(hx);
		free(v);
		return;
	} else if (strcmp(c, "random") == 0) {
		CK_BYTE b[256];
		CK_ULONG n = num(A(2));
		rv = p11->C_GenerateRandom(num(A(1)), b, n > sizeof b ? sizeof b : n);
	} else if (strcmp(c, "signinit") == 0) {
		CK_MECHANISM m = {num(A(3)), NULL, 0};
		rv = p11->C_SignInit(num(A(1)), &m, num(A(2)));
	} else if (strcmp(c, "sign") == 0 || strcmp(c, "signkey") == 0) {
		CK_ULONG n, siglen = 1024;
		CK_BYTE sig[1024], *data;
		int k = strcmp(c, "sign") == 0 ? 2 : 4;
		if (k == 4) {
			CK_MECHANISM m = {num(A(3)), NULL, 0};
			rv = p11->C_SignInit(num(A(1)), &m, num(A(2)));
			if (rv != CKR_OK) {
				say("%s 0x%lx init %.3f", id, (unsigned long)rv, now() - t0);
				return;
			}
		}
		data = unhex(A(k), &n);
		rv = do_sign(num(A(1)), data, n, sig, &siglen);
		char *hx = tohex(sig, rv == CKR_OK ? siglen : 0);
		say("%s 0x%lx %s %.3f", id, (unsigned long)rv, hx, now() - t0);
		free(hx);
		free(data);
		return;
	} else if (strcmp(c, "create") == 0) {
		CK_OBJECT_CLASS cls = CKO_DATA;
		CK_BBOOL tru = CK_TRUE;
		CK_BYTE val[4] = {1, 2, 3, 4};
		CK_ATTRIBUTE t[3] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_TOKEN, &tru, sizeof tru},
				     {CKA_VALUE, val, sizeof val}};
		CK_OBJECT_HANDLE o = 0;
		rv = p11->C_CreateObject(num(A(1)), t, 3, &o);
	} else if (strcmp(c, "setattr") == 0) {
		CK_UTF8CHAR label[] = "changed";
		CK_ATTRIBUTE t[1] = {{CKA_LABEL, label, sizeof label - 1}};
		rv = p11->C_SetAttributeValue(num(A(1)), num(A(2)), t, 1);
	} else if (strcmp(c, "copy") == 0) {
		CK_UTF8CHAR label[] = "copy";
		CK_ATTRIBUTE t[1] = {{CKA_LABEL, label, sizeof label - 1}};
		CK_OBJECT_HANDLE o = 0;
		rv = p11->C_CopyObject(num(A(1)), num(A(2)), t, 1, &o);
	} else if (strcmp(c, "destroy") == 0) {
		rv = p11->C_DestroyObject(num(A(1)), num(A(2)));
	} else if (strcmp(c, "genkey") == 0) {
		CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
		CK_ULONG bits = 2048;
		CK_ATTRIBUTE pub[1] = {{CKA_MODULUS_BITS, &bits, sizeof bits}};
		CK_OBJECT_HANDLE a = 0, b = 0;
		rv = p11->C_GenerateKeyPair(num(A(1)), &m, pub, 1, NULL, 0, &a, &b);
	} else if (strcmp(c, "initpin") == 0) {
		const char *pin = A(2) ? A(2) : "";
		rv = p11->C_InitPIN(num(A(1)), (CK_UTF8CHAR_PTR)pin, strlen(pin));
	} else if (strcmp(c, "forkexec") == 0) {
		forkexec(id, argc, argv);
		return;
	} else if (strcmp(c, "atexit") == 0) {
		exit_nslots = 64;
		rv = p11->C_GetSlotList(CK_FALSE, exit_slots, &exit_nslots);
		if (rv != CKR_OK)
			exit_nslots = 0;
		atexit(at_exit);
	} else if (strcmp(c, "exit") == 0) {
		say("%s 0x0", id);
		exit((int)num(A(1)));
	} else if (strcmp(c, "sleep") == 0) {
		usleep((useconds_t)num(A(1)) * 1000);
	} else if (strcmp(c, "stress") == 0) {
		void stress(const char *id, int argc, char **argv);
		stress(id, argc, argv);
		return;
	} else {
		say("%s 0x%lx unknown-command", id, (unsigned long)CKR_FUNCTION_NOT_SUPPORTED);
		return;
	}
	say("%s 0x%lx %.3f", id, (unsigned long)rv, now() - t0);
#undef A
}

/* ---- stress: THREADS threads for SECONDS over the tokens given by the SPECs. */

struct spec {
	CK_SLOT_ID slot;
	char pin[32];
	int ncert;
	CK_BYTE *cert[2];
	CK_ULONG certlen[2];
};

/* known tells whether v is one of the spec's certificates. */
static int known(const struct spec *sp, const CK_BYTE *v, CK_ULONG n)
{
	for (int i = 0; i < sp->ncert; i++)
		if (n == sp->certlen[i] && memcmp(v, sp->cert[i], n) == 0)
			return 1;
	return 0;
}

/* One tally: how often function fn on slot returned rv. */
struct tally {
	CK_SLOT_ID slot;
	const char *fn;
	CK_RV rv;
	unsigned long n;
};

struct worker {
	pthread_t th;
	const char *id;
	struct spec *sp;
	double deadline;
	unsigned seed;
	struct tally t[256];
	int nt;
	unsigned long ops, sigs;
};

static CK_RV note(struct worker *w, const char *fn, CK_RV rv)
{
	for (int i = 0; i < w->nt; i++)
		if (w->t[i].fn == fn && w->t[i].rv == rv) {
			w->t[i].n++;
			return rv;
		}
	if (w->nt < 256)
		w->t[w->nt++] = (struct tally){w->sp->slot, fn, rv, 1};
	return rv;
}

#define NOTE(w, f, args) note(w, #f, p11->f args)

/* lost tells whether rv means the session is over (card pulled, token gone). */
static int lost(CK_RV rv)
{
	return rv == CKR_DEVICE_REMOVED || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	       rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR;
}

/* find_one finds the first object of class cls. */
static CK_RV find_one(struct worker *w, CK_SESSION_HANDLE h, CK_ULONG cls, CK_OBJECT_HANDLE *o)
{
	CK_ATTRIBUTE t[1] = {{CKA_CLASS, &cls, sizeof cls}};
	CK_ULONG n = 0;
	CK_RV rv = NOTE(w, C_FindObjectsInit, (h, t, 1));
	*o = 0;
	if (rv != CKR_OK)
		return rv;
	rv = NOTE(w, C_FindObjects, (h, o, 1, &n));
	CK_RV rv2 = NOTE(w, C_FindObjectsFinal, (h));
	if (rv == CKR_OK && n == 0)
		return CKR_OBJECT_HANDLE_INVALID;
	return rv != CKR_OK ? rv : rv2;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	CK_SESSION_HANDLE h = 0;
	while (now() < w->deadline) {
		CK_RV rv = CKR_OK;
		w->ops++;
		if (h == 0) {
			rv = NOTE(w, C_OpenSession, (w->sp->slot, CKF_SERIAL_SESSION, NULL, NULL, &h));
			if (rv != CKR_OK) {
				h = 0;
				usleep(20000);
				continue;
			}
		}
		int op = rand_r(&w->seed) % 10;
		if (op < 2) { /* find every object */
			CK_OBJECT_HANDLE o[32];
			CK_ULONG n = 0;
			rv = NOTE(w, C_FindObjectsInit, (h, NULL, 0));
			if (rv == CKR_OK) {
				rv = NOTE(w, C_FindObjects, (h, o, 32, &n));
				CK_RV r2 = NOTE(w, C_FindObjectsFinal, (h));
				if (rv == CKR_OK)
					rv = r2;
			}
		} else if (op < 4) { /* the certificate's value: always the card's */
			CK_OBJECT_HANDLE o;
			rv = find_one(w, h, CKO_CERTIFICATE, &o);
			if (rv == CKR_OK) {
				CK_BYTE *v;
				CK_ULONG n;
				rv = get_attr(h, o, CKA_VALUE, &v, &n);
				note(w, "C_GetAttributeValue", rv);
				if (rv == CKR_OK && !known(w->sp, v, n))
					say("%s + wrong-cert %lu %lu", w->id, (unsigned long)w->sp->slot,
					    (unsigned long)n);
				free(v);
			}
		} else if (op < 5) { /* token info */
			CK_TOKEN_INFO ti;
			rv = NOTE(w, C_GetTokenInfo, (w->sp->slot, &ti));
		} else if (op < 9) { /* login (maybe already) and sign */
			CK_OBJECT_HANDLE key;
			CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
			CK_BYTE data[32], sig[512];
			CK_ULONG siglen = sizeof sig;
			rv = NOTE(w, C_Login, (h, CKU_USER, (CK_UTF8CHAR_PTR)w->sp->pin, strlen(w->sp->pin)));
			if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
				rv = find_one(w, h, CKO_PRIVATE_KEY, &key);
			if (rv == CKR_OK)
				rv = NOTE(w, C_SignInit, (h, &m, key));
			if (rv == CKR_OK) {
				for (int i = 0; i < 32; i++)
					data[i] = (CK_BYTE)rand_r(&w->seed);
				rv = NOTE(w, C_Sign, (h, data, sizeof data, sig, &siglen));
				if (rv == CKR_OK) {
					char *d = tohex(data, sizeof data), *s = tohex(sig, siglen);
					say("%s + sig %lu %s %s", w->id, (unsigned long)w->sp->slot, d, s);
					free(d);
					free(s);
					w->sigs++;
				}
			}
		} else { /* logout (ends the token's login for every session) */
			rv = NOTE(w, C_Logout, (h));
		}
		if (lost(rv)) {
			NOTE(w, C_CloseSession, (h));
			h = 0;
		}
	}
	if (h != 0)
		NOTE(w, C_CloseSession, (h));
	return NULL;
}

/* stress SECONDS THREADS SLOT,PIN,CERTFILE[,CERTFILE]...: thread i works on spec
 * i % nspecs, printing each signature ("ID + sig SLOT DATA SIG"), any certificate
 * value that is none of the CERTFILEs ("ID + wrong-cert ..."), then its tallies
 * ("ID + rv SLOT FN RV N") and finally "ID 0x0 OPS SIGS SECONDS". */
void stress(const char *id, int argc, char **argv)
{
	double secs = atof(argc > 1 ? argv[1] : "5");
	int nth = argc > 2 ? atoi(argv[2]) : 16, nsp = argc - 3;
	struct spec *sp = calloc(nsp > 0 ? nsp : 1, sizeof *sp);
	struct worker *w = calloc(nth, sizeof *w);
	double t0 = now();
	for (int i = 0; i < nsp; i++) {
		char *s = strdup(argv[3 + i]), *save = NULL;
		char *slot = strtok_r(s, ",", &save), *pin = strtok_r(NULL, ",", &save), *file;
		if (slot == NULL || pin == NULL) {
			say("%s 0x%lx bad-spec", id, (unsigned long)CKR_ARGUMENTS_BAD);
			return;
		}
		sp[i].slot = num(slot);
		snprintf(sp[i].pin, sizeof sp[i].pin, "%s", pin);
		while (sp[i].ncert < 2 && (file = strtok_r(NULL, ",", &save)) != NULL) {
			FILE *f = fopen(file, "rb");
			if (f == NULL) {
				say("%s 0x%lx no-cert %s", id, (unsigned long)CKR_ARGUMENTS_BAD, file);
				return;
			}
			int k = sp[i].ncert++;
			sp[i].cert[k] = malloc(1 << 16);
			sp[i].certlen[k] = fread(sp[i].cert[k], 1, 1 << 16, f);
			fclose(f);
		}
		free(s);
	}
	if (nsp == 0 || nth <= 0) {
		say("%s 0x%lx usage", id, (unsigned long)CKR_ARGUMENTS_BAD);
		return;
	}
	for (int i = 0; i < nth; i++) {
		w[i].id = id;
		w[i].sp = &sp[i % nsp];
		w[i].deadline = t0 + secs;
		w[i].seed = (unsigned)(i * 7919 + time(NULL));
		pthread_create(&w[i].th, NULL, work, &w[i]);
	}
	unsigned long ops = 0, sigs = 0;
	for (int i = 0; i < nth; i++) {
		pthread_join(w[i].th, NULL);
		ops += w[i].ops;
		sigs += w[i].sigs;
		for (int j = 0; j < w[i].nt; j++)
			say("%s + rv %lu %s 0x%lx %lu", id, (unsigned long)w[i].t[j].slot, w[i].t[j].fn,
			    (unsigned long)w[i].t[j].rv, w[i].t[j].n);
	}
	say("%s 0x0 %lu %lu %.3f", id, ops, sigs, now() - t0);
}

/* ---- main loop. */

static void exec_line(char *line)
{
	char *argv[MAXARGS + 1], *save = NULL, *id;
	int argc = 0;
	id = strtok_r(line, " \t\r\n", &save);
	if (id == NULL)
		return;
	for (char *t; argc < MAXARGS && (t = strtok_r(NULL, " \t\r\n", &save)) != NULL;)
		argv[argc++] = t;
	argv[argc] = NULL;
	if (argc == 0) {
		say("%s 0x%lx empty", id, (unsigned long)CKR_ARGUMENTS_BAD);
		return;
	}
	run(id, argc, argv);
}

static void *thread_job(void *arg)
{
	char *line = arg;
	exec_line(line);
	free(line);
	return NULL;
}

int main(int argc, char **argv)
{
	char line[8192];
	if (argc != 2) {
		fprintf(stderr, "usage: p11script MODULE\n");
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		printf("FAIL dlopen: %s\n", dlerror());
		return 1;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	if (gfl == NULL || gfl(&p11) != CKR_OK) {
		printf("FAIL C_GetFunctionList\n");
		return 1;
	}
	say("ready");
	while (fgets(line, sizeof line, stdin) != NULL) {
		if (line[0] == '&') {
			pthread_t th;
			pthread_attr_t at;
			pthread_attr_init(&at);
			pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
			if (pthread_create(&th, &at, thread_job, strdup(line + 1)) != 0)
				say("%s 0x%lx thread", line + 1, (unsigned long)CKR_HOST_MEMORY);
			pthread_attr_destroy(&at);
			continue;
		}
		exec_line(line);
	}
	return 0;
}
