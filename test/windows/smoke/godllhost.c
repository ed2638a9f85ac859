/*
 * godllhost.exe: loads the smoke Go DLL (argv[1]) and prints the readers it lists.
 */
#include <windows.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char buf[4096];
	HMODULE m = LoadLibraryA(argc > 1 ? argv[1] : "godll.dll");
	int (*readers)(char *, int);

	if (!m) { printf("LoadLibrary: error %lu\n", GetLastError()); return 1; }
	readers = (int (*)(char *, int))(void *)GetProcAddress(m, "SmokeReaders");
	if (!readers) { printf("no SmokeReaders export\n"); return 1; }
	int n = readers(buf, sizeof(buf));
	printf("readers: %d\n%s\n", n, buf);
	return n > 0 ? 0 : 1;
}
