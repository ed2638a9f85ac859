/*
 * scardls.exe: checks the Wine PC/SC bridge from a plain Windows program. Lists the
 * readers through winscard.dll and, for each reader with a card, selects the JPKI AP
 * and prints the status word. Exit 0 when at least one reader was listed.
 */
#include <windows.h>
#include <winscard.h>
#include <stdio.h>

int main(void)
{
	static const BYTE sel[] = { 0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01 };
	SCARDCONTEXT ctx;
	WCHAR buf[2048];
	DWORD n = 2048;
	LONG r = SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &ctx);

	if (r != SCARD_S_SUCCESS) { printf("SCardEstablishContext: 0x%08lX\n", (unsigned long)r); return 1; }
	r = SCardListReadersW(ctx, NULL, buf, &n);
	if (r != SCARD_S_SUCCESS) { printf("SCardListReadersW: 0x%08lX\n", (unsigned long)r); return 1; }
	for (WCHAR *p = buf; *p; p += wcslen(p) + 1) {
		SCARDHANDLE h;
		DWORD proto, rn = 258;
		BYTE rsp[258];
		printf("reader: %ls\n", p);
		if (SCardConnectW(ctx, p, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto) != SCARD_S_SUCCESS)
			continue;
		r = SCardTransmit(h, proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1, sel, sizeof(sel), NULL, rsp, &rn);
		if (r == SCARD_S_SUCCESS && rn >= 2) printf("  select JPKI AP: %02X %02X\n", rsp[rn - 2], rsp[rn - 1]);
		else printf("  transmit: 0x%08lX\n", (unsigned long)r);
		SCardDisconnect(h, SCARD_LEAVE_CARD);
	}
	SCardReleaseContext(ctx);
	return 0;
}
