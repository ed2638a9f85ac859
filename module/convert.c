/*
 * convert.c: CK_ATTRIBUTE template access for the Go side. A template entry is a
 * packed structure on Windows (misaligned pointer), which cgo cannot address, so Go
 * reads and writes entries only through these functions.
 */
#include "shim.h"

void jpki_attr_get(CK_ATTRIBUTE_PTR tmpl, CK_ULONG i, jpki_attr *out)
{
	out->type = (uint64_t)tmpl[i].type;
	out->value = tmpl[i].pValue;
	/* CK_UNAVAILABLE_INFORMATION of a 32-bit CK_ULONG is widened as a length
	 * of 4 GiB - 1, which every bound check treats as too large. */
	out->len = (uint64_t)tmpl[i].ulValueLen;
}

void jpki_attr_set_len(CK_ATTRIBUTE_PTR tmpl, CK_ULONG i, CK_ULONG len)
{
	tmpl[i].ulValueLen = len;
}
