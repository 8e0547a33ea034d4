package market

import (
	"sync"
	"time"
)

// Time and date texts are handed out as shared, immutable byte slices so
// that an image copied out of an instrument stays valid after the
// instrument moves on, without allocating per tick.

var (
	hmsOnce  sync.Once
	hmsTable []byte // 86400 × "HH:MM:SS"
)

// hms returns "HH:MM:SS" for second-of-day sec.
func hms(sec int) []byte {
	hmsOnce.Do(func() {
		hmsTable = make([]byte, 86400*8)
		for s := range 86400 {
			b := hmsTable[s*8 : s*8+8]
			h, m, x := s/3600, s/60%60, s%60
			b[0], b[1], b[2] = byte('0'+h/10), byte('0'+h%10), ':'
			b[3], b[4], b[5] = byte('0'+m/10), byte('0'+m%10), ':'
			b[6], b[7] = byte('0'+x/10), byte('0'+x%10)
		}
	})
	return hmsTable[sec*8 : sec*8+8 : sec*8+8]
}

var (
	datesMu sync.Mutex
	dates   = map[int64][]byte{}
)

// dateText returns "YYYY-MM-DD" for the UTC day number day (days since the
// Unix epoch). It allocates once per distinct day.
func dateText(day int64) []byte {
	datesMu.Lock()
	defer datesMu.Unlock()
	if b, ok := dates[day]; ok {
		return b
	}
	b := []byte(time.Unix(day*86400, 0).UTC().Format(time.DateOnly))
	b = b[:len(b):len(b)]
	dates[day] = b
	return b
}

// stamp is one reading of the clock, split the ways the fields need it.
type stamp struct {
	day int64 // days since the epoch, UTC
	sec int   // second of the day
	ms  int64 // millisecond of the day
}

func stampOf(t time.Time) stamp {
	t = t.UTC()
	ns := t.UnixNano()
	day := ns / int64(24*time.Hour)
	if ns < 0 && ns%int64(24*time.Hour) != 0 {
		day--
	}
	msOfDay := (ns - day*int64(24*time.Hour)) / int64(time.Millisecond)
	return stamp{day: day, sec: int(msOfDay / 1000), ms: msOfDay}
}
