package main

/*
#include "shim.h"
*/
import "C"

import "github.com/jpki-pkcs11/jpki-pkcs11/session"

// goOpenSession is C_OpenSession (phSession checked non-NULL in C; the notify
// callback is never called).
//
//export goOpenSession
func goOpenSession(slot, flags C.CK_ULONG, out *C.CK_ULONG) C.CK_RV {
	return call("C_OpenSession", func(m *session.Manager) error {
		h, err := m.OpenSession(ul(slot), ul(flags))
		if err != nil {
			return err
		}
		*out = cul(h)
		return nil
	}, "slot", ul(slot), "flags", ul(flags))
}

// goCloseSession is C_CloseSession.
//
//export goCloseSession
func goCloseSession(h C.CK_ULONG) C.CK_RV {
	return call("C_CloseSession", func(m *session.Manager) error {
		return m.CloseSession(ul(h))
	}, "session", ul(h))
}

// goCloseAllSessions is C_CloseAllSessions.
//
//export goCloseAllSessions
func goCloseAllSessions(slot C.CK_ULONG) C.CK_RV {
	return call("C_CloseAllSessions", func(m *session.Manager) error {
		return m.CloseAllSessions(ul(slot))
	}, "slot", ul(slot))
}

// goGetSessionInfo is C_GetSessionInfo; C copies *out into CK_SESSION_INFO.
//
//export goGetSessionInfo
func goGetSessionInfo(h C.CK_ULONG, out *C.jpki_session_info) C.CK_RV {
	return call("C_GetSessionInfo", func(m *session.Manager) error {
		si, err := m.SessionInfo(ul(h))
		if err != nil {
			return err
		}
		out.slot, out.state = C.uint64_t(si.SlotID), C.uint64_t(si.State)
		out.flags, out.device_error = C.uint64_t(si.Flags), C.uint64_t(si.DeviceError)
		return nil
	}, "session", ul(h))
}

// goLogin is C_Login. The PIN is copied into memory the module owns and wiped when
// the call returns; it is never logged.
//
//export goLogin
func goLogin(h, userType C.CK_ULONG, pin *C.CK_UTF8CHAR, pinLen C.CK_ULONG) C.CK_RV {
	return call("C_Login", func(m *session.Manager) error {
		p := copyPIN(pin, pinLen)
		defer wipe(p)
		return m.Login(ul(h), ul(userType), p)
	}, "session", ul(h), "userType", ul(userType))
}

// goLogout is C_Logout.
//
//export goLogout
func goLogout(h C.CK_ULONG) C.CK_RV {
	return call("C_Logout", func(m *session.Manager) error {
		return m.Logout(ul(h))
	}, "session", ul(h))
}

// goSetPIN is C_SetPIN: both PINs are copied, wiped after the call, never logged.
//
//export goSetPIN
func goSetPIN(h C.CK_ULONG, oldPIN *C.CK_UTF8CHAR, oldLen C.CK_ULONG, newPIN *C.CK_UTF8CHAR, newLen C.CK_ULONG) C.CK_RV {
	return call("C_SetPIN", func(m *session.Manager) error {
		o, n := copyPIN(oldPIN, oldLen), copyPIN(newPIN, newLen)
		defer wipe(o)
		defer wipe(n)
		return m.SetPIN(ul(h), o, n)
	}, "session", ul(h))
}
