// Package fastgzip compresses the storefront's response bodies (a few KB of
// JSON) into gzip with much less CPU than compress/gzip: LZ77 with a small
// hash table, then one deflate block with the fixed Huffman codes of RFC
// 1951 (3.2.6). compress/gzip at level 1 spends most of its time on such
// bodies building a block's own Huffman codes (histograms, sorts, code
// lengths); fixed codes skip that for output about a quarter larger. Any
// gzip reader inflates the result.
package fastgzip

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// MinSize is the smallest body worth compressing: below about one packet,
// gzip saves no round trip and costs CPU.
const MinSize = 1400

const (
	hashBits  = 12
	minMatch  = 4
	maxMatch  = 258
	maxOffset = 32768 // deflate's window
)

// The fixed literal/length codes, bit-reversed for LSB-first packing.
var litCode [288]uint16
var litLen [288]uint8

// lenCode[n] is the code of match length n followed by its extra bits,
// lenBits[n] how many bits they are together.
var lenCode [maxMatch + 1]uint16
var lenBits [maxMatch + 1]uint8

func init() {
	for s := range 288 {
		var code, n int
		switch {
		case s < 144:
			code, n = 0x30+s, 8
		case s < 256:
			code, n = 0x190+s-144, 9
		case s < 280:
			code, n = s-256, 7
		default:
			code, n = 0xc0+s-280, 8
		}
		litCode[s] = uint16(bits.Reverse16(uint16(code)) >> (16 - n))
		litLen[s] = uint8(n)
	}
	for length := 3; length <= maxMatch; length++ {
		s, extra, nExtra := 0, 0, 0
		switch l := length - 3; {
		case length == maxMatch:
			s = 285
		case l < 8:
			s = 257 + l
		default:
			nb := bits.Len(uint(l)) - 1
			hi := (l >> (nb - 2)) & 3
			s = 257 + 4*(nb-1) + hi
			extra, nExtra = l-((4+hi)<<(nb-2)), nb-2
		}
		lenCode[length] = litCode[s] | uint16(extra)<<litLen[s]
		lenBits[length] = litLen[s] + uint8(nExtra)
	}
}

// bitWriter packs bits LSB first.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

func (w *bitWriter) put(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	if w.nacc >= 32 {
		w.out = binary.LittleEndian.AppendUint32(w.out, uint32(w.acc))
		w.acc >>= 32
		w.nacc -= 32
	}
}

func (w *bitWriter) literal(b byte) { w.put(uint64(litCode[b]), uint(litLen[b])) }

// match writes a length (3..258) and a distance (1..32768): at most 13
// plus 18 bits, so one put.
func (w *bitWriter) match(length, dist int) {
	v, n := uint64(lenCode[length]), uint(lenBits[length])
	d := dist - 1
	if d < 4 {
		w.put(v|uint64(bits.Reverse8(uint8(d))>>3)<<n, n+5)
		return
	}
	nb := bits.Len(uint(d)) - 1
	hi := (d >> (nb - 1)) & 1
	code := uint64(bits.Reverse8(uint8(2*nb+hi)) >> 3)
	extra := uint64(d - ((2 + hi) << (nb - 1)))
	w.put(v|code<<n|extra<<(n+5), n+5+uint(nb-1))
}

func (w *bitWriter) flush() {
	for w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc = max(w.nacc, 8) - 8
	}
}

func load32(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }

// matchLen is how far src[cand:] and src[i:] agree (cand < i), from the
// minMatch bytes already known equal, up to maxMatch.
func matchLen(src []byte, cand, i int) int {
	n := minMatch
	limit := min(len(src)-i, maxMatch)
	for n+8 <= limit {
		x := binary.LittleEndian.Uint64(src[cand+n:]) ^ binary.LittleEndian.Uint64(src[i+n:])
		if x != 0 {
			return n + bits.TrailingZeros64(x)/8
		}
		n += 8
	}
	for n < limit && src[cand+n] == src[i+n] {
		n++
	}
	return n
}

func hash(u uint32) uint32 { return (u * 2654435761) >> (32 - hashBits) }

// Append appends src gzipped (one member, one fixed-code block) to dst.
func Append(dst, src []byte) []byte {
	// Header: magic, deflate, no flags, no time, fastest, unknown OS.
	dst = append(dst, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255)
	w := bitWriter{out: dst}
	w.put(3, 3)                    // BFINAL, BTYPE 01: fixed codes
	var table [1 << hashBits]int32 // position+1 of the last 4 bytes with that hash
	lit := 0
	for i := 0; i+minMatch <= len(src); {
		u := load32(src, i)
		h := hash(u)
		cand := int(table[h]) - 1
		table[h] = int32(i + 1)
		if cand < 0 || i-cand > maxOffset || load32(src, cand) != u {
			i++
			continue
		}
		n := matchLen(src, cand, i)
		for _, b := range src[lit:i] {
			w.literal(b)
		}
		w.match(n, i-cand)
		// The match's last position goes into the table too, so that a run
		// of repeated fields chains from match to match.
		if end := i + n - 1; end+minMatch <= len(src) {
			table[hash(load32(src, end))] = int32(end + 1)
		}
		i += n
		lit = i
	}
	for _, b := range src[lit:] {
		w.literal(b)
	}
	w.put(uint64(litCode[256]), uint(litLen[256])) // end of block
	w.flush()
	out := binary.LittleEndian.AppendUint32(w.out, crc32.ChecksumIEEE(src))
	return binary.LittleEndian.AppendUint32(out, uint32(len(src)))
}
