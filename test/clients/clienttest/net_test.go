package clienttest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// helperEnv makes this test binary act as a server (see TestMain).
const helperEnv = "CLIENTTEST_HELPER_PORT"

func TestMain(m *testing.M) {
	if port := os.Getenv(helperEnv); port != "" {
		lateLogServer(port)
		return
	}
	os.Exit(m.Run())
}

// lateLogServer is a server that, like openssl s_server and sshd, writes its log
// line about a client only after the client got its answer: it answers the first
// line a client sends and logs once the client has hung up. (The first connection
// is StartServer's probe.)
func lateLogServer(port string) {
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil {
			c.Close()
			continue // the probe
		}
		fmt.Fprintf(c, "answer to %s", line)
		_, _ = r.ReadString('\n') // until the client hangs up
		c.Close()
		fmt.Println("client served:", line)
	}
}

// TestWaitOutput: a server's log line that comes after the client's answer is
// waited for (the race of TestOpenSSLTLS13, which read s_server's output before
// s_server had written its verify line), and a line that never comes fails once
// the server has exited, not after a fixed time.
func TestWaitOutput(t *testing.T) {
	port := FreePort(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv := StartServer(t, port, append(os.Environ(), helperEnv+"="+strconv.Itoa(port)), exe)
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "hello\n")
	answer, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || answer != "answer to hello\n" {
		t.Fatalf("answer %q, %v", answer, err)
	}
	c.Close()
	srv.WaitOutput(t, "the server's log", "client served: hello")

	var b Buffer
	done := make(chan struct{})
	go func() {
		_, _ = b.Write([]byte("first "))
		_, _ = b.Write([]byte("second"))
		close(done)
	}()
	if !b.WaitFor(context.Background(), make(chan struct{}), "second") {
		t.Fatal("WaitFor missed a write")
	}
	<-done
	if b.WaitFor(context.Background(), done, "third") {
		t.Fatal("WaitFor found what was never written")
	}
}
