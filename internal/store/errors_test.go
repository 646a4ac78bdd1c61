package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/internal/problem"
	"github.com/shelfcommerce/shelf/internal/store"
)

// What the driver returns when nothing listens on the database's port is
// "unavailable" (a 503); errors of the request itself are not, whatever
// they wrap.
func TestIsUnavailableTellsOutagesFromOtherErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, refused := store.OpenDB(ctx, "root@tcp("+addr+")/x", store.DefaultPool)
	if refused == nil || !store.IsUnavailable(refused) {
		t.Fatalf("connection refused: %v, want unavailable", refused)
	}
	if u := store.Unavailable(refused); problem.Status(u) != 503 {
		t.Fatalf("connection refused answers %d", problem.Status(u))
	}
	for _, err := range []error{
		fmt.Errorf("read: %w", &mysql.MySQLError{Number: 1040, Message: "Too many connections"}),
		fmt.Errorf("q: %w", context.DeadlineExceeded),
		mysql.ErrInvalidConn,
		fmt.Errorf("commit: %w", sql.ErrTxDone), // rolled back when the deadline passed
		store.ErrBusy,
	} {
		if !store.IsUnavailable(err) || problem.Status(store.Unavailable(err)) != 503 {
			t.Errorf("%v: not a 503", err)
		}
	}
	// A lost race that was not run again (one long transaction) is a 503
	// too: the work was undone, and sending it again may succeed.
	for _, n := range []uint16{1213, 1205} {
		err := fmt.Errorf("write batch: %w", &mysql.MySQLError{Number: n, Message: "lost a race"})
		if u := store.Unavailable(err); problem.Status(u) != 503 || !errors.Is(u, store.ErrBusy) {
			t.Errorf("%d: answers %d (%v), want ErrBusy's 503", n, problem.Status(u), u)
		}
	}
	for _, err := range []error{
		sql.ErrNoRows, io.ErrUnexpectedEOF, io.EOF,
		&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"},
		problem.New(problem.Invalid, "bad"),
		errors.New("some bug"),
	} {
		if store.IsUnavailable(err) {
			t.Errorf("%v counted as the database being unavailable", err)
		}
	}
}
