package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/ertkit/ertkit/trjson"
)

// defaultBoardFields are the columns of the live board when no --view is given.
var defaultBoardFields = []string{"BID", "ASK", "TRDPRC_1", "NETCHNG_1", "PCTCHNG", "ACVOL_1", "QUOTIM"}

// boardStore holds the latest values of every item on the board. The SDK's
// delivery goroutine writes it; the renderer reads it.
type boardStore struct {
	mu    sync.Mutex
	now   func() time.Time
	cols  []string
	rows  map[string]*boardRow
	order []string
	note  string // one line under the table: the flow step, an event
}

type boardRow struct {
	name    string
	values  map[string]string
	prev    map[string]float64
	dir     map[string]int // +1 up, -1 down: highlighted until hiUntil
	hiUntil map[string]time.Time
	state   string
	text    string
	updates int64
	// rate: updates counted per second over a sliding window of 5 s.
	window [5]int64
	winSec int64
}

func newBoardStore(cols []string, now func() time.Time) *boardStore {
	if len(cols) == 0 {
		cols = defaultBoardFields
	}
	if now == nil {
		now = time.Now
	}
	return &boardStore{cols: cols, rows: map[string]*boardRow{}, now: now}
}

func (s *boardStore) row(name string) *boardRow {
	r, ok := s.rows[name]
	if !ok {
		r = &boardRow{name: name, values: map[string]string{}, prev: map[string]float64{}, dir: map[string]int{}, hiUntil: map[string]time.Time{}, state: "Pending"}
		s.rows[name] = r
		s.order = append(s.order, name)
	}
	return r
}

// add lists an item before anything arrived for it.
func (s *boardStore) add(name string) {
	s.mu.Lock()
	s.row(name)
	s.mu.Unlock()
}

func (s *boardStore) setNote(n string) {
	s.mu.Lock()
	s.note = n
	s.mu.Unlock()
}

// apply merges one message into the board.
func (s *boardStore) apply(name string, m *trjson.Msg) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.row(name)
	if m.HasState {
		r.state = m.State.Stream.String() + "/" + m.State.Data.String()
		r.text = strings.TrimRight(m.State.Text, "\x00")
	}
	if m.Type == trjson.TypeUpdate {
		r.updates++
		sec := now.Unix()
		if sec != r.winSec {
			for i := r.winSec + 1; i <= sec && i-r.winSec <= int64(len(r.window)); i++ {
				r.window[i%int64(len(r.window))] = 0
			}
			r.winSec = sec
		}
		r.window[sec%int64(len(r.window))]++
	}
	for i := range m.Fields {
		f := &m.Fields[i]
		if !s.isCol(f.Name) {
			continue
		}
		if v, ok := f.AsFloat(); ok && !f.IsBlank() {
			if old, had := r.prev[f.Name]; had && v != old && m.Type == trjson.TypeUpdate {
				r.dir[f.Name] = 1
				if v < old {
					r.dir[f.Name] = -1
				}
				r.hiUntil[f.Name] = now.Add(time.Second)
			}
			r.prev[f.Name] = v
		}
		r.values[f.Name] = formatBoardValue(f)
	}
}

func (s *boardStore) isCol(name string) bool {
	for _, c := range s.cols {
		if c == name {
			return true
		}
	}
	return false
}

func formatBoardValue(f *trjson.Field) string {
	switch f.Kind {
	case trjson.KindNull:
		return ""
	case trjson.KindFloat:
		if math.Abs(f.Float) >= 1e6 {
			return strconv.FormatFloat(f.Float, 'f', 0, 64)
		}
		return strconv.FormatFloat(f.Float, 'f', -1, 64)
	}
	return f.AsString()
}

var (
	styleHead = lipgloss.NewStyle().Bold(true)
	styleUp   = lipgloss.NewStyle().Foreground(lipgloss.Color("10")).Bold(true)
	styleDown = lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true)
	styleBad  = lipgloss.NewStyle().Foreground(lipgloss.Color("11"))
	styleDim  = lipgloss.NewStyle().Faint(true)
)

// render draws the board as text; color adds the highlights.
func (s *boardStore) render(color bool) string {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	headers := append(append([]string{"RIC"}, s.cols...), "STATE", "UPD/S")
	width := make([]int, len(headers))
	for i, h := range headers {
		width[i] = len(h)
	}
	cells := make([][]string, 0, len(s.order))
	for _, name := range s.order {
		r := s.rows[name]
		row := []string{name}
		for _, c := range s.cols {
			row = append(row, r.values[c])
		}
		row = append(row, r.state, strconv.FormatFloat(r.rate(now), 'f', 1, 64))
		for i, v := range row {
			width[i] = max(width[i], len([]rune(v)))
		}
		cells = append(cells, row)
	}
	var b strings.Builder
	pad := func(i int, v string) string {
		n := width[i] - len([]rune(v))
		if i == 0 || i == len(headers)-2 {
			return v + strings.Repeat(" ", n)
		}
		return strings.Repeat(" ", n) + v
	}
	for i, h := range headers {
		if i > 0 {
			b.WriteString("  ")
		}
		if color {
			b.WriteString(styleHead.Render(pad(i, h)))
		} else {
			b.WriteString(pad(i, h))
		}
	}
	b.WriteByte('\n')
	for ri, row := range cells {
		r := s.rows[s.order[ri]]
		for i, v := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			cell := pad(i, v)
			if color {
				switch {
				case i >= 1 && i <= len(s.cols):
					col := s.cols[i-1]
					if now.Before(r.hiUntil[col]) {
						if r.dir[col] > 0 {
							cell = styleUp.Render(cell)
						} else {
							cell = styleDown.Render(cell)
						}
					}
				case i == len(headers)-2 && r.state != "Open/Ok":
					cell = styleBad.Render(cell)
				}
			}
			b.WriteString(cell)
		}
		b.WriteByte('\n')
	}
	for _, name := range s.order {
		if r := s.rows[name]; r.text != "" && r.state != "Open/Ok" {
			line := fmt.Sprintf("%s: %s", name, r.text)
			if color {
				line = styleBad.Render(line)
			}
			b.WriteString(line + "\n")
		}
	}
	if s.note != "" {
		if color {
			b.WriteString(styleDim.Render(s.note) + "\n")
		} else {
			b.WriteString(s.note + "\n")
		}
	}
	return b.String()
}

// rate is the mean updates per second over the last full seconds.
func (r *boardRow) rate(now time.Time) float64 {
	sec := now.Unix()
	var sum int64
	n := int64(len(r.window)) - 1
	for i := sec - n; i < sec; i++ {
		if i > r.winSec-int64(len(r.window)) && i <= r.winSec {
			sum += r.window[i%int64(len(r.window))]
		}
	}
	return float64(sum) / float64(n)
}

// boardModel is the bubbletea model: it redraws from the store 4 times a second.
type boardModel struct {
	store *boardStore
	title string
}

type boardTick struct{}

func (m boardModel) Init() tea.Cmd {
	return tea.Every(250*time.Millisecond, func(time.Time) tea.Msg { return boardTick{} })
}

func (m boardModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch msg.String() {
		case "q", "ctrl+c", "esc":
			return m, tea.Quit
		}
	case boardTick:
		return m, tea.Every(250*time.Millisecond, func(time.Time) tea.Msg { return boardTick{} })
	}
	return m, nil
}

func (m boardModel) View() tea.View {
	v := tea.NewView(styleHead.Render(m.title) + "\n\n" + m.store.render(true) + "\n" + styleDim.Render("q to quit"))
	v.AltScreen = true
	return v
}

// runBoard shows the board until ctx ends or the user quits; it returns
// nil in both cases.
func runBoard(ctx context.Context, store *boardStore, title string, in io.Reader, out io.Writer) error {
	p := tea.NewProgram(boardModel{store: store, title: title}, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out))
	_, err := p.Run()
	if err != nil && ctx.Err() != nil {
		return nil
	}
	if err != nil && strings.Contains(err.Error(), "context canceled") {
		return nil
	}
	return err
}
