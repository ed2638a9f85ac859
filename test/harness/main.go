package harness

import (
	"fmt"
	"os"
)

// Runner runs a test binary's tests and returns its exit code (*testing.M).
type Runner interface{ Run() int }

// Main is the body of a TestMain that needs one private pcscd: it starts the
// pcscd, calls setup with it (when not nil), runs the tests and stops the pcscd
// with every card it serves. When the tests fail and KEEP_HARNESS is set, the
// pcscd's directory (logs, card directories) is kept and its path printed. name
// prefixes the messages. It returns the exit code for os.Exit.
func Main(m Runner, name string, setup func(*PCSC) error) int {
	p, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %s: cannot start the private pcscd: %v\n", name, err)
		return 1
	}
	code := 1
	if setup != nil {
		err = setup(p)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %s: %v\n", name, err)
	} else {
		code = m.Run()
	}
	keep := code != 0 && os.Getenv("KEEP_HARNESS") != ""
	p.Stop(keep)
	if keep {
		fmt.Fprintf(os.Stderr, "%s: logs kept in %s\n", name, p.Dir)
	}
	return code
}
