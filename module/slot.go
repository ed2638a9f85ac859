package main

/*
#include "shim.h"
*/
import "C"

import (
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/session"
)

// goGetSlotList is C_GetSlotList (pulCount checked non-NULL in C).
//
//export goGetSlotList
func goGetSlotList(tokenPresent C.CK_BBOOL, list *C.CK_ULONG, count *C.CK_ULONG) C.CK_RV {
	return call("C_GetSlotList", func(m *session.Manager) error {
		slots, err := m.SlotList(tokenPresent != 0)
		if err != nil {
			return err
		}
		return writeULongs(list, count, slots)
	}, "tokenPresent", tokenPresent != 0)
}

// goGetSlotInfo is C_GetSlotInfo; C copies *out into the caller's CK_SLOT_INFO.
//
//export goGetSlotInfo
func goGetSlotInfo(slot C.CK_ULONG, out *C.jpki_slot_info) C.CK_RV {
	return call("C_GetSlotInfo", func(m *session.Manager) error {
		si, err := m.SlotInfo(ul(slot))
		if err != nil {
			return err
		}
		pad(field(&out.description), si.Description)
		pad(field(&out.manufacturer), si.Manufacturer)
		out.flags = C.uint64_t(si.Flags)
		out.hw_major, out.hw_minor = C.uint8_t(si.HardwareVersion.Major), C.uint8_t(si.HardwareVersion.Minor)
		out.fw_major, out.fw_minor = C.uint8_t(si.FirmwareVersion.Major), C.uint8_t(si.FirmwareVersion.Minor)
		return nil
	}, "slot", ul(slot))
}

// goGetTokenInfo is C_GetTokenInfo; C copies *out into the caller's CK_TOKEN_INFO.
//
//export goGetTokenInfo
func goGetTokenInfo(slot C.CK_ULONG, out *C.jpki_token_info) C.CK_RV {
	return call("C_GetTokenInfo", func(m *session.Manager) error {
		ti, err := m.TokenInfo(ul(slot))
		if err != nil {
			return err
		}
		pad(field(&out.label), ti.Label)
		pad(field(&out.manufacturer), ti.Manufacturer)
		pad(field(&out.model), ti.Model)
		pad(field(&out.serial), ti.SerialNumber)
		pad(field(&out.utc_time), ti.UTCTime)
		out.flags = C.uint64_t(ti.Flags)
		out.max_sessions = C.uint64_t(ti.MaxSessionCount)
		out.sessions = C.uint64_t(ti.SessionCount)
		out.max_rw_sessions = C.uint64_t(ti.MaxRwSessionCount)
		out.rw_sessions = C.uint64_t(ti.RwSessionCount)
		out.max_pin = C.uint64_t(ti.MaxPinLen)
		out.min_pin = C.uint64_t(ti.MinPinLen)
		out.total_public = C.uint64_t(ti.TotalPublicMemory)
		out.free_public = C.uint64_t(ti.FreePublicMemory)
		out.total_private = C.uint64_t(ti.TotalPrivateMemory)
		out.free_private = C.uint64_t(ti.FreePrivateMemory)
		out.hw_major, out.hw_minor = C.uint8_t(ti.HardwareVersion.Major), C.uint8_t(ti.HardwareVersion.Minor)
		out.fw_major, out.fw_minor = C.uint8_t(ti.FirmwareVersion.Major), C.uint8_t(ti.FirmwareVersion.Minor)
		return nil
	}, "slot", ul(slot))
}

// goGetMechanismList is C_GetMechanismList (pulCount checked non-NULL in C).
//
//export goGetMechanismList
func goGetMechanismList(slot C.CK_ULONG, list *C.CK_ULONG, count *C.CK_ULONG) C.CK_RV {
	return call("C_GetMechanismList", func(m *session.Manager) error {
		mechs, err := m.Mechanisms(ul(slot))
		if err != nil {
			return err
		}
		return writeULongs(list, count, mechs)
	}, "slot", ul(slot))
}

// goGetMechanismInfo is C_GetMechanismInfo; C copies *out into CK_MECHANISM_INFO.
//
//export goGetMechanismInfo
func goGetMechanismInfo(slot, typ C.CK_ULONG, out *C.jpki_mech_info) C.CK_RV {
	return call("C_GetMechanismInfo", func(m *session.Manager) error {
		mi, err := m.MechanismInfo(ul(slot), ul(typ))
		if err != nil {
			return err
		}
		out.min_key, out.max_key, out.flags = C.uint64_t(mi.MinKeySize), C.uint64_t(mi.MaxKeySize), C.uint64_t(mi.Flags)
		return nil
	}, "slot", ul(slot), "mechanism", ul(typ))
}

// goWaitForSlotEvent is C_WaitForSlotEvent (pSlot non-NULL, pReserved NULL, checked
// in C). A blocking wait holds no lock of the module; C_Finalize wakes it.
//
//export goWaitForSlotEvent
func goWaitForSlotEvent(flags C.CK_ULONG, slot *C.CK_ULONG) C.CK_RV {
	return callWaiting("C_WaitForSlotEvent", func(m *session.Manager) error {
		id, err := m.WaitForSlotEvent(ul(flags)&ck.CKF_DONT_BLOCK != 0)
		if err != nil {
			return err
		}
		*slot = cul(id)
		return nil
	}, "flags", ul(flags))
}
