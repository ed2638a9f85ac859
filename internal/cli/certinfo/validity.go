// Package certinfo turns JPKI certificates into what the card holder wants to
// know: validity, days left, the renewal window of the service, the holder's
// attributes from the signature certificate, and the trusted JPKI roots.
package certinfo

import (
	"crypto/x509"
	"fmt"
	"time"
)

// JST is the time zone the service's dates are stated in (certificates expire at
// 23:59:59 JST). A fixed zone: no dependency on the system's tz database.
var JST = time.FixedZone("JST", 9*60*60)

// RenewalMonths is how long before expiry renewal opens (service rules, JPKI.md §7).
const RenewalMonths = 3

// Validity is what a certificate's dates mean for its holder at a given time.
type Validity struct {
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	DaysLeft    int       `json:"days_left"` // whole days until expiry; negative once expired
	Expired     bool      `json:"expired"`
	NotYetValid bool      `json:"not_yet_valid"`
	RenewalFrom string    `json:"renewal_from"` // date (JST) renewal opens, YYYY-MM-DD
	RenewalOpen bool      `json:"renewal_open"`
}

// ValidityOf computes the validity of c at now.
func ValidityOf(c *x509.Certificate, now time.Time) Validity {
	v := Validity{NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC()}
	left := c.NotAfter.Sub(now)
	v.DaysLeft = int(left / (24 * time.Hour))
	if left < 0 {
		v.DaysLeft = -int((-left + 24*time.Hour - 1) / (24 * time.Hour))
	}
	v.Expired = !now.Before(c.NotAfter)
	v.NotYetValid = now.Before(c.NotBefore)
	renew := RenewalStart(c.NotAfter)
	v.RenewalFrom = renew.Format(time.DateOnly)
	v.RenewalOpen = !now.Before(renew) && !v.Expired
	return v
}

// RenewalStart is the first day (00:00 JST) renewal is possible for a certificate
// expiring at notAfter: the same calendar day, RenewalMonths earlier.
func RenewalStart(notAfter time.Time) time.Time {
	d := notAfter.In(JST)
	y, m, day := d.Date()
	// AddDate normalises 31 May - 3 months to 1 March; clamp to the month's end instead.
	first := time.Date(y, m-RenewalMonths, 1, 0, 0, 0, 0, JST)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(day, last), 0, 0, 0, 0, JST)
}

// Summary is the one-line sentence for the holder, for example
// "expires 2029-02-17 (812 days); renewal possible from 2028-11-17".
func (v Validity) Summary() string {
	exp := v.NotAfter.In(JST).Format(time.DateOnly)
	switch {
	case v.Expired:
		return fmt.Sprintf("expired %s (%s ago); it can no longer be used", exp, days(-v.DaysLeft))
	case v.NotYetValid:
		return fmt.Sprintf("not valid before %s; expires %s", v.NotBefore.In(JST).Format(time.DateOnly), exp)
	case v.RenewalOpen:
		return fmt.Sprintf("expires %s (%s); renewal possible now (since %s)", exp, days(v.DaysLeft), v.RenewalFrom)
	}
	return fmt.Sprintf("expires %s (%s); renewal possible from %s", exp, days(v.DaysLeft), v.RenewalFrom)
}

// ExpirySummary is the sentence for a certificate nobody renews (a CA):
// "expires 2046-10-26 (7274 days)".
func (v Validity) ExpirySummary() string {
	exp := v.NotAfter.In(JST).Format(time.DateOnly)
	if v.Expired {
		return fmt.Sprintf("expired %s (%s ago)", exp, days(-v.DaysLeft))
	}
	return fmt.Sprintf("expires %s (%s)", exp, days(v.DaysLeft))
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// SignOutlivesAuth reports whether the signature certificate expires after the
// authentication one, which the service's rules do not allow (the signature
// certificate's validity is capped by the authentication certificate's).
func SignOutlivesAuth(sign, auth *x509.Certificate) bool {
	return sign != nil && auth != nil && sign.NotAfter.After(auth.NotAfter)
}
