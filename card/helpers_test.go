package card

import "errors"

func isErr(err, target error) bool             { return errors.Is(err, target) }
func isStatus(err error, sw StatusError) bool  { return errors.Is(err, sw) }
func asStatus(err error, se *StatusError) bool { return errors.As(err, se) }
