package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Querier is what a transaction offers a bulk write: statements, and the
// one-row reads that check them.
type Querier interface {
	Execer
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Table is one table written in bulk: its name and the columns each row of
// args fills, in order. It is the one writer of those columns: Insert and
// InsertIDs choose how the rows travel (LOAD DATA LOCAL INFILE where the
// server takes it, multi-row INSERTs where it does not), Upsert always
// uses INSERT ... ON DUPLICATE KEY UPDATE.
type Table struct {
	Name string
	Cols []string
	// Binary lists the columns whose values are raw bytes rather than text
	// (a hash): LOAD DATA reads its file as utf8mb4, so they travel as hex.
	Binary []string

	head, load string // built once
}

// NewTable describes a table for the bulk writers; binary names columns of
// raw bytes (see Table.Binary).
func NewTable(name string, cols []string, binary ...string) *Table {
	t := &Table{Name: name, Cols: cols, Binary: binary}
	t.head = "INSERT INTO " + name + " (" + strings.Join(cols, ", ") + ")"
	var list, set []string
	for i, c := range cols {
		if t.isBinary(c) {
			v := "@v" + strconv.Itoa(i)
			list = append(list, v)
			set = append(set, c+" = UNHEX("+v+")")
			continue
		}
		list = append(list, c)
	}
	t.load = " INTO TABLE " + name + " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' " +
		"LINES TERMINATED BY '\\n' STARTING BY '' (" + strings.Join(list, ", ") + ")"
	if len(set) > 0 {
		t.load += " SET " + strings.Join(set, ", ")
	}
	return t
}

func (t *Table) isBinary(col string) bool { return slices.Contains(t.Binary, col) }

// Insert writes new rows (args holds the values row after row): every row
// must be inserted, so a duplicate or a value the server would adjust is an
// error, as with a plain INSERT in strict mode, and the statement's rows are
// then not all written: the caller rolls back (to a savepoint).
func (t *Table) Insert(ctx context.Context, q Querier, args []any) error {
	_, err := t.write(ctx, q, args, false)
	return err
}

// InsertIDs is Insert for rows that leave the table's AUTO_INCREMENT id to
// the server, on a connection where AutoIDsConsecutive holds: it returns the
// id each row got, in the order of args. Either way the rows travel, one
// statement takes consecutive ids (innodb_autoinc_lock_mode 0 or 1 holds the
// table's AUTO-INC lock through a bulk statement), starting at the
// LAST_INSERT_ID() it leaves.
func (t *Table) InsertIDs(ctx context.Context, q Querier, args []any) ([]uint64, error) {
	return t.write(ctx, q, args, true)
}

// InsertHead is "INSERT INTO name (cols)", for a statement of the caller's
// own that fills the same columns (an INSERT ... SELECT).
func (t *Table) InsertHead() string { return t.head }

// Upsert runs INSERT ... VALUES ... tail (an ON DUPLICATE KEY UPDATE clause)
// over args, 500 rows a statement, and returns the rows affected.
func (t *Table) Upsert(ctx context.Context, ex Execer, args []any, tail string) (int64, error) {
	return InsertRows(ctx, ex, t.head, len(t.Cols), args, tail)
}

func (t *Table) write(ctx context.Context, q Querier, args []any, ids bool) ([]uint64, error) {
	width := len(t.Cols)
	if width == 0 || len(args)%width != 0 {
		return nil, fmt.Errorf("store: %d values do not fill rows of %s's %d columns", len(args), t.Name, width)
	}
	if len(args) == 0 {
		return nil, nil
	}
	if loadDataFor(ctx, q, len(args)/width) {
		out, err := t.loadData(ctx, q, args, ids)
		if !refusesLocal(err) {
			return out, err
		}
		loadState.Store(loadOff) // refused before anything was read: fall back
	}
	if ids {
		return InsertRowsIDs(ctx, q, t.head, width, args)
	}
	n, err := InsertRows(ctx, q, t.head, width, args, "")
	if err == nil && n != int64(len(args)/width) {
		err = fmt.Errorf("insert into %s: %d of %d rows written", t.Name, n, len(args)/width)
	}
	return nil, err
}

// The LOAD DATA transport. A server may refuse LOCAL INFILE (MySQL 8's
// default, local_infile=OFF): that is found once per process, by reading
// @@local_infile before the first load and by the refusal itself, and every
// later write then uses INSERTs.
const (
	loadUnknown int32 = iota
	loadOn
	loadOff
)

var (
	loadState   atomic.Int32
	readerSeq   atomic.Uint64
	errRefusals = []uint16{1148, 3948, 2068}
)

// LoadDataUsed reports whether Table.Insert and InsertIDs on q (a *Tx,
// or a connection of the server) send their rows with LOAD DATA LOCAL
// INFILE, finding out the first time as a write would.
func LoadDataUsed(ctx context.Context, q Querier) bool { return loadDataFor(ctx, q, loadMinRows) }

// BulkTransport is how Table.Insert and InsertIDs send rows.
type BulkTransport int

const (
	// BulkAuto: LOAD DATA for writes of loadMinRows rows or more where the
	// server takes LOCAL INFILE, multi-row INSERTs otherwise (a LOAD DATA
	// costs a second round trip, for its warnings: not worth it for a few
	// rows).
	BulkAuto BulkTransport = iota
	// BulkInsert: always multi-row INSERTs, as on a server that refuses
	// LOCAL INFILE.
	BulkInsert
	// BulkLoad: LOAD DATA whatever the rows, where the server takes it.
	BulkLoad
)

// loadMinRows is the fewest rows BulkAuto sends with LOAD DATA.
const loadMinRows = 16

func loadDataFor(ctx context.Context, q Querier, rows int) bool {
	if tx, ok := q.(*Tx); ok && tx.st != nil {
		switch tx.st.Bulk {
		case BulkInsert:
			return false
		case BulkLoad:
			rows = loadMinRows
		}
	}
	if rows < loadMinRows {
		return false
	}
	switch loadState.Load() {
	case loadOn:
		return true
	case loadOff:
		return false
	}
	var on int64
	if err := q.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&on); err != nil {
		return false // ask again next time
	}
	if on == 0 {
		loadState.Store(loadOff)
		return false
	}
	loadState.Store(loadOn)
	return true
}

func refusesLocal(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		for _, n := range errRefusals {
			if me.Number == n {
				return true
			}
		}
	}
	return false
}

// loadData sends args as a tab-separated file through the driver's reader
// handler (a name of its own, deregistered after) and checks what LOCAL
// INFILE would otherwise let pass: LOCAL makes the server skip duplicates
// and adjust bad values with only a warning, so any warning, or a row count
// other than the rows sent, fails the write with the first warning as a
// MySQL error (a duplicate is still a 1062, a CHECK a 4025).
func (t *Table) loadData(ctx context.Context, q Querier, args []any, ids bool) ([]uint64, error) {
	width := len(t.Cols)
	rows := len(args) / width
	buf := fileBufs.Get().(*bytes.Buffer)
	defer putFileBuf(buf)
	buf.Grow(fileSize(args))
	var times lastTime
	for i, v := range args {
		if err := t.appendField(buf, &times, t.Cols[i%width], v); err != nil {
			return nil, err
		}
		if i%width == width-1 {
			buf.WriteByte('\n')
		} else {
			buf.WriteByte('\t')
		}
	}
	name := "shelf-" + t.Name + "-" + strconv.FormatUint(readerSeq.Add(1), 10)
	data := buf.Bytes()
	mysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(data) })
	defer mysql.DeregisterReaderHandler(name)
	res, err := q.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::"+name+"'"+t.load)
	if err != nil {
		return nil, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, err
	}
	var warnings int64
	var first uint64
	if err := q.QueryRowContext(ctx, "SELECT @@warning_count, LAST_INSERT_ID()").Scan(&warnings, &first); err != nil {
		return nil, err
	}
	if warnings > 0 {
		var level, msg string
		var code uint16
		if err := q.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &msg); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("load into %s: %w", t.Name, &mysql.MySQLError{Number: code, Message: msg})
	}
	if n != int64(rows) {
		return nil, fmt.Errorf("load into %s: %d of %d rows written", t.Name, n, rows)
	}
	if !ids {
		return nil, nil
	}
	if first == 0 {
		return nil, fmt.Errorf("load into %s: no first id", t.Name)
	}
	out := make([]uint64, rows)
	for i := range out {
		out[i] = first + uint64(i)
	}
	return out, nil
}

// fileBufs holds the buffers loadData builds its files in: an import
// builds one per table and batch, and growing a fresh one each time (its
// copies, and the zeroing of each larger array) cost as much as the
// escaping itself.
var fileBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledFile is the largest buffer kept for reuse; a rare larger file's
// goes to the collector.
const maxPooledFile = 8 << 20

func putFileBuf(b *bytes.Buffer) {
	if b.Cap() > maxPooledFile {
		return
	}
	b.Reset()
	fileBufs.Put(b)
}

// fileSize is about the bytes args take in the file: their text, a little
// for escapes, a separator each; a binary column's hex is twice its bytes,
// which the margin leaves to one growth at most.
func fileSize(args []any) int {
	n := 0
	for _, v := range args {
		switch x := v.(type) {
		case string:
			n += len(x) + len(x)/32
		case []byte:
			n += 2 * len(x)
		default:
			n += 24
		}
		n++
	}
	return n
}

// lastTime is the last time a file's fields wrote and its text: the rows
// of one write mostly share one (the write's now), and formatting it again
// for every row cost the importing process 4% of its CPU.
type lastTime struct {
	t    time.Time
	text []byte
}

func (l *lastTime) format(t time.Time) []byte {
	if l.text == nil || !t.Equal(l.t) {
		l.t, l.text = t, t.UTC().AppendFormat(l.text[:0], "2006-01-02 15:04:05.999999")
	}
	return l.text
}

// appendField writes one value as a field of the file: \N for NULL, text
// with the backslash escapes LOAD DATA reads (\\, \t, \n, \r, \0, \Z), and
// the columns of Binary as hex.
func (t *Table) appendField(buf *bytes.Buffer, times *lastTime, col string, v any) error {
	var b [64]byte
	switch x := v.(type) {
	case nil:
		buf.WriteString(`\N`)
	case string:
		if t.isBinary(col) {
			buf.Write(hex.AppendEncode(buf.AvailableBuffer(), []byte(x)))
		} else {
			escapeField(buf, x)
		}
	case []byte:
		if x == nil {
			buf.WriteString(`\N`)
		} else if t.isBinary(col) {
			buf.Write(hex.AppendEncode(buf.AvailableBuffer(), x))
		} else {
			escapeField(buf, string(x))
		}
	case bool:
		if x {
			buf.WriteByte('1')
		} else {
			buf.WriteByte('0')
		}
	case int:
		buf.Write(strconv.AppendInt(b[:0], int64(x), 10))
	case int32:
		buf.Write(strconv.AppendInt(b[:0], int64(x), 10))
	case int64:
		buf.Write(strconv.AppendInt(b[:0], x, 10))
	case uint64:
		buf.Write(strconv.AppendUint(b[:0], x, 10))
	case uint32:
		buf.Write(strconv.AppendUint(b[:0], uint64(x), 10))
	case time.Time:
		buf.Write(times.format(x))
	default:
		return fmt.Errorf("store: %s.%s: no file form for a %T", t.Name, col, v)
	}
	return nil
}

func escapeField(buf *bytes.Buffer, s string) {
	start := 0
	for i := 0; i < len(s); i++ {
		esc := fileEscapes[s[i]]
		if esc == 0 {
			continue
		}
		buf.WriteString(s[start:i])
		buf.WriteByte('\\')
		buf.WriteByte(esc)
		start = i + 1
	}
	buf.WriteString(s[start:])
}

// fileEscapes is, for each byte, the letter of its backslash escape in the
// file (0: the byte goes as it is).
var fileEscapes = [256]byte{'\\': '\\', '\t': 't', '\n': 'n', '\r': 'r', 0: '0', 0x1a: 'Z'}
