package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shelfcommerce/shelf/internal/store"
)

// Server is a private mariadbd (its own datadir and port, on loopback) for
// tests that kill, freeze or restart the database. Such tests never touch
// the shared server other tests use.
type Server struct {
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
	args []string // mariadbd options after the defaults
	// DSN reaches the server as root, without a database.
	DSN string
}

// StartServer initialises a datadir and starts mariadbd on a free port; it
// is stopped when the test ends. Machines without MariaDB's server binaries
// skip the test, and so does -short (a server takes seconds to start).
// args are more mariadbd options, after (and so over) the defaults, such as
// "--log-bin" and "--server-id=2" for a primary and its replica.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a private MariaDB server")
	}
	for _, bin := range []string{"mariadbd", "mariadb-install-db"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed: this test needs a private MariaDB server", bin)
		}
	}
	dir, err := os.MkdirTemp("", "shelf-mariadbd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// --tmpdir here too: the bootstrap server also clears its tmpdir.
	install := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+filepath.Join(dir, "data"), "--tmpdir="+dir,
		"--user="+currentUser(), "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, dir: dir, port: port, args: args, DSN: fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)}
	s.Start()
	t.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Signal(syscall.SIGCONT)
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if os.Geteuid() == 0 {
		return "root"
	}
	return fmt.Sprint(os.Geteuid())
}

// Start starts mariadbd on the server's datadir and port (again, after
// Kill) and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	// Its own --tmpdir: a server deletes every #sql* file in its tmpdir
	// when it starts, which in a shared /tmp would be other servers'
	// temporary tables in use (the shared test server's among them).
	s.cmd = exec.Command("mariadbd", "--no-defaults", "--datadir="+filepath.Join(s.dir, "data"), "--tmpdir="+s.dir,
		"--user="+currentUser(), fmt.Sprintf("--port=%d", s.port), "--bind-address=127.0.0.1",
		"--socket="+filepath.Join(s.dir, "sock"), "--pid-file="+filepath.Join(s.dir, "pid"),
		"--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=16M", "--max-connections=100", "--log-error="+filepath.Join(s.dir, "error.log"))
	s.cmd.Args = append(s.cmd.Args, s.args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start mariadbd: %v", err)
	}
	db, err := sql.Open("mysql", s.DSN)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
			s.t.Fatalf("private mariadbd did not come up: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Kill kills the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Freeze stops the server with SIGSTOP: it keeps its sockets but answers
// nothing, like a hung host or a partition. Thaw resumes it.
func (s *Server) Freeze() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (s *Server) Thaw() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// NewStore creates a migrated database on the server and opens a Store on it
// with a pool of maxOpen connections; it is closed when the test ends.
func (s *Server) NewStore(ctx context.Context, name string, maxOpen int) *store.Store {
	s.t.Helper()
	st, err := store.Open(ctx, s.NewDatabase(ctx, name), store.PoolConfig{MaxOpen: maxOpen, MaxIdle: maxOpen, MaxLifetime: time.Minute})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { st.Close() })
	return st
}

// NewDatabase creates a migrated database on the server and returns its DSN.
func (s *Server) NewDatabase(ctx context.Context, name string) string {
	s.t.Helper()
	db, err := sql.Open("mysql", s.DSN)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"); err != nil {
		s.t.Fatal(err)
	}
	dsn := s.DSN + name
	if err := Migrate(ctx, dsn); err != nil {
		s.t.Fatal(err)
	}
	return dsn
}
