package store

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// MySQL and MariaDB server error numbers Shelf reacts to.
const (
	errDupEntry        = 1062
	errLockWaitTimeout = 1205
	errDeadlock        = 1213
	errCheckMariaDB    = 4025
	errCheckMySQL      = 3819
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

// IsRetryable reports a deadlock (1213) or lock-wait timeout (1205): the
// transaction lost a lock race and can be run again from the start.
func IsRetryable(err error) bool {
	n := mysqlNumber(err)
	return n == errDeadlock || n == errLockWaitTimeout
}

// IsCheckViolation reports a failed CHECK constraint (MariaDB 4025, MySQL 3819).
func IsCheckViolation(err error) bool {
	n := mysqlNumber(err)
	return n == errCheckMariaDB || n == errCheckMySQL
}
