package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progressBar draws "label [=====>    ]  42% 1.2M/2.9M 3s" on stderr when
// stderr is a terminal, at most ten times a second; elsewhere it draws
// nothing (logs and pipes get the final summary line only).
type progressBar struct {
	w     io.Writer
	label string
	on    bool
	start time.Time
	mu    sync.Mutex
	last  time.Time
	drawn bool
}

func newProgressBar(env *Env, label string) *progressBar {
	on := false
	if f, ok := env.Stderr.(*os.File); ok {
		on = term.IsTerminal(int(f.Fd()))
	}
	return &progressBar{w: env.Stderr, label: label, on: on, start: time.Now()}
}

// set reports done of total (total 0: unknown).
func (p *progressBar) set(done, total int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || (total > 0 && done >= total) {
		p.last = now
		const width = 30
		frac := 0.0
		if total > 0 {
			frac = min(float64(done)/float64(total), 1)
		}
		fill := int(frac * width)
		bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
		if fill > 0 && fill < width {
			bar = bar[:fill-1] + ">" + bar[fill:]
		}
		fmt.Fprintf(p.w, "\r%s [%s] %3.0f%% %s/%s %s ", p.label, bar, 100*frac, humanCount(done), humanCount(total),
			time.Since(p.start).Round(time.Second))
		p.drawn = true
	}
}

// done clears the bar's line.
func (p *progressBar) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
