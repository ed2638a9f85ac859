/*
 * interfaces.c: the PKCS#11 3.0 interface negotiation (C_GetInterfaceList and
 * C_GetInterface over a table of interfaces), shared by jpki-pkcs11.so (general.c)
 * and the authentication-only entry point (authentry/authentry.c), which each hold
 * their own table.
 */
#include <string.h>
#include "shim.h"

CK_RV jpki_interface_list(const CK_INTERFACE *interfaces, CK_ULONG n, CK_INTERFACE_PTR pInterfacesList,
			  CK_ULONG_PTR pulCount)
{
	if (pulCount == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	if (pInterfacesList == NULL_PTR) {
		*pulCount = n;
		return CKR_OK;
	}
	if (*pulCount < n) {
		*pulCount = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (CK_ULONG i = 0; i < n; i++)
		pInterfacesList[i] = interfaces[i];
	*pulCount = n;
	return CKR_OK;
}

CK_RV jpki_interface_find(CK_INTERFACE *interfaces, CK_ULONG n, CK_UTF8CHAR_PTR pInterfaceName,
			  CK_VERSION_PTR pVersion, CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	if (ppInterface == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_INTERFACE_PTR it = &interfaces[i];
		const CK_VERSION *v = (const CK_VERSION *)it->pFunctionList;
		if (pInterfaceName != NULL_PTR &&
		    strcmp((const char *)pInterfaceName, (const char *)it->pInterfaceName) != 0)
			continue;
		if (pVersion != NULL_PTR && (pVersion->major != v->major || pVersion->minor != v->minor))
			continue;
		if ((it->flags & flags) != flags)
			continue;
		*ppInterface = it;
		return CKR_OK;
	}
	*ppInterface = NULL_PTR;
	return CKR_ARGUMENTS_BAD;
}
