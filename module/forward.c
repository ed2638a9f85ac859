/*
 * forward.c: the C_* functions implemented in Go. Each one runs the fork guard and
 * the initialised check (jpki_guard), checks its pointer and length arguments
 * (CKR_ARGUMENTS_BAD comes before any session or object check), converts packed
 * Cryptoki structures to or from the jpki_* mirrors of shim.h, and calls the Go
 * export of the same name with a "go" prefix.
 */
#include <string.h>
#include "shim.h"
#include "_cgo_export.h"

#define GUARD()                               \
	do {                                  \
		CK_RV guard_rv = jpki_guard(); \
		if (guard_rv != CKR_OK)       \
			return guard_rv;      \
	} while (0)

/* A (pointer, length) input buffer: NULL is allowed only with length 0. */
#define BAD_BUFFER(p, n) ((p) == NULL_PTR && (n) != 0)

/* CKR_ARGUMENTS_BAD from a call that belongs to an active operation: the operation
 * ends too (PKCS#11, C_Sign: "always terminates the active signing
 * operation unless it returns CKR_BUFFER_TOO_SMALL or is a successful call to
 * determine the length"; the same for the other calls of signing, verification and
 * digesting). Go ends the session's operation of that kind and logs the error. */
#define OP_ARGUMENTS_BAD(name, h, op) goArgumentsBad((char *)(name), (h), (op))

static void version_out(CK_VERSION *v, uint8_t major, uint8_t minor)
{
	v->major = major;
	v->minor = minor;
}

/* ---- slots and tokens ---- */

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
	GUARD();
	if (pulCount == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	return goGetSlotList(tokenPresent, pSlotList, pulCount);
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	jpki_slot_info si;
	CK_RV rv;
	GUARD();
	if (pInfo == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	memset(&si, 0, sizeof si);
	rv = goGetSlotInfo(slotID, &si);
	if (rv != CKR_OK)
		return rv;
	memcpy(pInfo->slotDescription, si.description, sizeof pInfo->slotDescription);
	memcpy(pInfo->manufacturerID, si.manufacturer, sizeof pInfo->manufacturerID);
	pInfo->flags = (CK_FLAGS)si.flags;
	version_out(&pInfo->hardwareVersion, si.hw_major, si.hw_minor);
	version_out(&pInfo->firmwareVersion, si.fw_major, si.fw_minor);
	return CKR_OK;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	jpki_token_info ti;
	CK_RV rv;
	GUARD();
	if (pInfo == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	memset(&ti, 0, sizeof ti);
	rv = goGetTokenInfo(slotID, &ti);
	if (rv != CKR_OK)
		return rv;
	memcpy(pInfo->label, ti.label, sizeof pInfo->label);
	memcpy(pInfo->manufacturerID, ti.manufacturer, sizeof pInfo->manufacturerID);
	memcpy(pInfo->model, ti.model, sizeof pInfo->model);
	memcpy(pInfo->serialNumber, ti.serial, sizeof pInfo->serialNumber);
	/* uint64_t -> CK_ULONG: on Win64 this keeps the low 32 bits, so
	 * CK_UNAVAILABLE_INFORMATION (all ones) stays all ones. */
	pInfo->flags = (CK_FLAGS)ti.flags;
	pInfo->ulMaxSessionCount = (CK_ULONG)ti.max_sessions;
	pInfo->ulSessionCount = (CK_ULONG)ti.sessions;
	pInfo->ulMaxRwSessionCount = (CK_ULONG)ti.max_rw_sessions;
	pInfo->ulRwSessionCount = (CK_ULONG)ti.rw_sessions;
	pInfo->ulMaxPinLen = (CK_ULONG)ti.max_pin;
	pInfo->ulMinPinLen = (CK_ULONG)ti.min_pin;
	pInfo->ulTotalPublicMemory = (CK_ULONG)ti.total_public;
	pInfo->ulFreePublicMemory = (CK_ULONG)ti.free_public;
	pInfo->ulTotalPrivateMemory = (CK_ULONG)ti.total_private;
	pInfo->ulFreePrivateMemory = (CK_ULONG)ti.free_private;
	version_out(&pInfo->hardwareVersion, ti.hw_major, ti.hw_minor);
	version_out(&pInfo->firmwareVersion, ti.fw_major, ti.fw_minor);
	memcpy(pInfo->utcTime, ti.utc_time, sizeof pInfo->utcTime);
	return CKR_OK;
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
			 CK_ULONG_PTR pulCount)
{
	GUARD();
	if (pulCount == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	return goGetMechanismList(slotID, pMechanismList, pulCount);
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
	jpki_mech_info mi;
	CK_RV rv;
	GUARD();
	if (pInfo == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	memset(&mi, 0, sizeof mi);
	rv = goGetMechanismInfo(slotID, type, &mi);
	if (rv != CKR_OK)
		return rv;
	pInfo->ulMinKeySize = (CK_ULONG)mi.min_key;
	pInfo->ulMaxKeySize = (CK_ULONG)mi.max_key;
	pInfo->flags = (CK_FLAGS)mi.flags;
	return CKR_OK;
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	GUARD();
	if (pSlot == NULL_PTR || pReserved != NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	return goWaitForSlotEvent(flags, pSlot);
}

/* ---- sessions and login ---- */

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
		    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
	(void)pApplication; /* no callbacks are ever made (CKN_SURRENDER is optional) */
	(void)Notify;
	GUARD();
	if (phSession == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	return goOpenSession(slotID, flags, phSession);
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	GUARD();
	return goCloseSession(hSession);
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	GUARD();
	return goCloseAllSessions(slotID);
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	jpki_session_info si;
	CK_RV rv;
	GUARD();
	if (pInfo == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	memset(&si, 0, sizeof si);
	rv = goGetSessionInfo(hSession, &si);
	if (rv != CKR_OK)
		return rv;
	pInfo->slotID = (CK_SLOT_ID)si.slot;
	pInfo->state = (CK_STATE)si.state;
	pInfo->flags = (CK_FLAGS)si.flags;
	pInfo->ulDeviceError = (CK_ULONG)si.device_error;
	return CKR_OK;
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
	      CK_ULONG ulPinLen)
{
	GUARD();
	if (BAD_BUFFER(pPin, ulPinLen))
		return CKR_ARGUMENTS_BAD;
	return goLogin(hSession, userType, pPin, ulPinLen);
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	GUARD();
	return goLogout(hSession);
}

CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
	       CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
	GUARD();
	if (BAD_BUFFER(pOldPin, ulOldLen) || BAD_BUFFER(pNewPin, ulNewLen))
		return CKR_ARGUMENTS_BAD;
	return goSetPIN(hSession, pOldPin, ulOldLen, pNewPin, ulNewLen);
}

/* ---- objects ---- */

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	GUARD();
	if (BAD_BUFFER(pTemplate, ulCount))
		return CKR_ARGUMENTS_BAD;
	return goFindObjectsInit(hSession, pTemplate, ulCount);
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
		    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
	GUARD();
	if (pulObjectCount == NULL_PTR || BAD_BUFFER(phObject, ulMaxObjectCount))
		return CKR_ARGUMENTS_BAD;
	return goFindObjects(hSession, phObject, ulMaxObjectCount, pulObjectCount);
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
	GUARD();
	return goFindObjectsFinal(hSession);
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
			  CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	GUARD();
	if (BAD_BUFFER(pTemplate, ulCount))
		return CKR_ARGUMENTS_BAD;
	return goGetAttributeValue(hSession, hObject, pTemplate, ulCount);
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize)
{
	GUARD();
	if (pulSize == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	return goGetObjectSize(hSession, hObject, pulSize);
}

/* The token is read-only (CKF_WRITE_PROTECTED): after the argument checks, Go checks
 * the session and answers CKR_TOKEN_WRITE_PROTECTED (pkcs11test's rule for a
 * read-only token; CKR_FUNCTION_NOT_SUPPORTED would tell a caller nothing). */
CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
		     CK_OBJECT_HANDLE_PTR phObject)
{
	GUARD();
	if (BAD_BUFFER(pTemplate, ulCount) || phObject == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	return goWriteProtected((char *)"C_CreateObject", hSession);
}

CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
		   CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
	GUARD();
	(void)hObject;
	if (BAD_BUFFER(pTemplate, ulCount) || phNewObject == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	return goWriteProtected((char *)"C_CopyObject", hSession);
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
			  CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	GUARD();
	(void)hObject;
	if (BAD_BUFFER(pTemplate, ulCount))
		return CKR_ARGUMENTS_BAD;
	return goWriteProtected((char *)"C_SetAttributeValue", hSession);
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
	GUARD();
	(void)hObject;
	return goWriteProtected((char *)"C_DestroyObject", hSession);
}

/* ---- signing, verification, digests, random ---- */

#define MECHANISM_ARGS(m) (m)->mechanism, (m)->pParameter, (m)->ulParameterLen

CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	GUARD();
	if (pMechanism == NULL_PTR || BAD_BUFFER(pMechanism->pParameter, pMechanism->ulParameterLen))
		return CKR_ARGUMENTS_BAD;
	return goSignInit(hSession, MECHANISM_ARGS(pMechanism), hKey);
}

CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	     CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	GUARD();
	if (pulSignatureLen == NULL_PTR || BAD_BUFFER(pData, ulDataLen))
		return OP_ARGUMENTS_BAD("C_Sign", hSession, JPKI_OP_SIGN);
	return goSign(hSession, pData, ulDataLen, pSignature, pulSignatureLen);
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	GUARD();
	if (BAD_BUFFER(pPart, ulPartLen))
		return OP_ARGUMENTS_BAD("C_SignUpdate", hSession, JPKI_OP_SIGN);
	return goSignUpdate(hSession, pPart, ulPartLen);
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	GUARD();
	if (pulSignatureLen == NULL_PTR)
		return OP_ARGUMENTS_BAD("C_SignFinal", hSession, JPKI_OP_SIGN);
	return goSignFinal(hSession, pSignature, pulSignatureLen);
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	GUARD();
	if (pMechanism == NULL_PTR || BAD_BUFFER(pMechanism->pParameter, pMechanism->ulParameterLen))
		return CKR_ARGUMENTS_BAD;
	return goVerifyInit(hSession, MECHANISM_ARGS(pMechanism), hKey);
}

CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	       CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	GUARD();
	if (BAD_BUFFER(pData, ulDataLen) || BAD_BUFFER(pSignature, ulSignatureLen))
		return OP_ARGUMENTS_BAD("C_Verify", hSession, JPKI_OP_VERIFY);
	return goVerify(hSession, pData, ulDataLen, pSignature, ulSignatureLen);
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	GUARD();
	if (BAD_BUFFER(pPart, ulPartLen))
		return OP_ARGUMENTS_BAD("C_VerifyUpdate", hSession, JPKI_OP_VERIFY);
	return goVerifyUpdate(hSession, pPart, ulPartLen);
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	GUARD();
	if (BAD_BUFFER(pSignature, ulSignatureLen))
		return OP_ARGUMENTS_BAD("C_VerifyFinal", hSession, JPKI_OP_VERIFY);
	return goVerifyFinal(hSession, pSignature, ulSignatureLen);
}

CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
	GUARD();
	if (pMechanism == NULL_PTR || BAD_BUFFER(pMechanism->pParameter, pMechanism->ulParameterLen))
		return CKR_ARGUMENTS_BAD;
	return goDigestInit(hSession, MECHANISM_ARGS(pMechanism));
}

CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	       CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	GUARD();
	if (pulDigestLen == NULL_PTR || BAD_BUFFER(pData, ulDataLen))
		return OP_ARGUMENTS_BAD("C_Digest", hSession, JPKI_OP_DIGEST);
	return goDigest(hSession, pData, ulDataLen, pDigest, pulDigestLen);
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	GUARD();
	if (BAD_BUFFER(pPart, ulPartLen))
		return OP_ARGUMENTS_BAD("C_DigestUpdate", hSession, JPKI_OP_DIGEST);
	return goDigestUpdate(hSession, pPart, ulPartLen);
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	GUARD();
	if (pulDigestLen == NULL_PTR)
		return OP_ARGUMENTS_BAD("C_DigestFinal", hSession, JPKI_OP_DIGEST);
	return goDigestFinal(hSession, pDigest, pulDigestLen);
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData, CK_ULONG ulRandomLen)
{
	GUARD();
	if (BAD_BUFFER(RandomData, ulRandomLen))
		return CKR_ARGUMENTS_BAD;
	return goGenerateRandom(hSession, RandomData, ulRandomLen);
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
	GUARD();
	if (BAD_BUFFER(pSeed, ulSeedLen))
		return CKR_ARGUMENTS_BAD;
	return goSeedRandom(hSession);
}
