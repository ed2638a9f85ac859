package objects

// SerialFromHead extracts the serial number's content bytes from the first bytes
// of a DER certificate (Certificate SEQUENCE, TBSCertificate SEQUENCE, optional
// [0] version, INTEGER serial). ok is false when head is too short or malformed.
func SerialFromHead(head []byte) (serial []byte, ok bool) {
	p := head
	for range 2 { // Certificate and TBSCertificate headers
		if len(p) < 2 || p[0] != 0x30 {
			return nil, false
		}
		n, ok := headerLen(p)
		if !ok {
			return nil, false
		}
		p = p[n:]
	}
	if len(p) >= 2 && p[0] == 0xA0 { // [0] EXPLICIT version
		n, ok := headerLen(p)
		if !ok || len(p) < n+int(p[1]) || p[1] >= 0x80 {
			return nil, false
		}
		p = p[n+int(p[1]):]
	}
	if len(p) < 2 || p[0] != 0x02 || p[1] >= 0x80 || p[1] == 0 || len(p) < 2+int(p[1]) {
		return nil, false
	}
	return p[2 : 2+int(p[1])], true
}

// headerLen returns the length of the tag+length header at p.
func headerLen(p []byte) (int, bool) {
	if len(p) < 2 {
		return 0, false
	}
	if p[1] < 0x80 {
		return 2, true
	}
	n := int(p[1] & 0x7F)
	if n == 0 || n > 3 || len(p) < 2+n {
		return 0, false
	}
	return 2 + n, true
}
