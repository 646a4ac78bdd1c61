package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shelfcommerce/shelf/internal/problem"
)

// ErrUnavailable stands for every error that means the database is not
// there or not answering in time (see IsUnavailable): a 503 with
// Retry-After. A load balancer health-checking /readyz stops sending
// traffic meanwhile.
var ErrUnavailable = &problem.Error{Kind: problem.Unavailable,
	Detail: "the database is not answering; retry shortly", RetryAfter: 2 * time.Second}

// Unavailable wraps err in ErrUnavailable when IsUnavailable(err) and it is
// not already a client-facing problem, and a lost race that nothing ran
// again (IsRetryable: the work of one long transaction, such as a whole
// import, which is not rerun) in ErrBusy; otherwise it returns err. Both
// are 503s with Retry-After.
func Unavailable(err error) error {
	if _, ok := problem.As(err); ok {
		return err
	}
	if IsUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if IsRetryable(err) {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// MySQL and MariaDB server error numbers Shelf reacts to.
const (
	errDupEntry        = 1062
	errLockWaitTimeout = 1205
	errLockNowait      = 3572 // MySQL: a NOWAIT read met a lock
	errDeadlock        = 1213
	errCheckMariaDB    = 4025
	errCheckMySQL      = 3819
	// Galera answers 1047 (ER_UNKNOWN_COM_ERROR, "WSREP has not yet
	// prepared node for application use") while a node is not part of the
	// primary component or still resyncing, for any statement.
	errWsrepNotReady = 1047
	// MySQL Group Replication's certification failure at COMMIT.
	errGRRollback = 3101
	// The server refusing or dropping the session.
	errConCount       = 1040 // Too many connections
	errServerShutdown = 1053
	errConnKilled     = 1927 // MariaDB: Connection was killed
	errQueryKilled    = 1317 // Query execution was interrupted
	errReadOnly       = 1290 // --read-only (a replica, or a node being drained)
	errReadOnlyMode   = 1836 // MySQL: running in read-only mode
)

func mysqlNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// IsDuplicate reports a unique-key violation (1062).
func IsDuplicate(err error) bool { return mysqlNumber(err) == errDupEntry }

// IsLockedNow reports that a locking read with NOWAIT met a row another
// transaction holds: MySQL answers 3572, MariaDB a lock-wait timeout (1205)
// at once. Only meaningful for a NOWAIT statement, which never waits, so
// check it before IsRetryable (which takes 1205 for a lost race).
func IsLockedNow(err error) bool {
	n := mysqlNumber(err)
	return n == errLockNowait || n == errLockWaitTimeout
}

// IsRetryable reports an error after which the unit of work (a whole
// transaction, or one autocommit statement) was not applied and may simply
// be run again: a deadlock (1213, also Galera's certification failure at
// COMMIT), a lock-wait timeout (1205), a Galera node that is not ready
// (1047) and MySQL Group Replication's rollback at commit (3101).
func IsRetryable(err error) bool {
	switch mysqlNumber(err) {
	case errDeadlock, errLockWaitTimeout, errWsrepNotReady, errGRRollback:
		return true
	}
	return false
}

// IsUnavailable reports an error that means the database is not there, not
// answering in time, or refusing work: a request that meets one is answered
// 503 with Retry-After, never 500. A write that failed this way may or may
// not have been applied (see Idempotency-Key).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrBusy) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch mysqlNumber(err) {
	case errConCount, errServerShutdown, errConnKilled, errQueryKilled, errReadOnly, errReadOnlyMode,
		errWsrepNotReady:
		return true
	}
	// A connection that broke mid-conversation, or a transaction that
	// database/sql rolled back because the deadline passed, also surface as
	// these.
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, mysql.ErrPktSync) || errors.Is(err, mysql.ErrPktSyncMul) ||
		errors.Is(err, mysql.ErrBusyBuffer) || errors.Is(err, mysql.ErrMalformPkt) ||
		errors.Is(err, sql.ErrTxDone) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var oe *net.OpError // dial, read or write on the database's socket
	return errors.As(err, &oe)
}

// IsCheckViolation reports a failed CHECK constraint (MariaDB 4025, MySQL 3819).
func IsCheckViolation(err error) bool {
	n := mysqlNumber(err)
	return n == errCheckMariaDB || n == errCheckMySQL
}
