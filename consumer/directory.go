package consumer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/ertkit/ertkit/trjson"
)

// ServiceInfo is one service of the Source Directory (domain Source): the
// Info filter (ID 1) and State filter (ID 2) of its FilterList, decoded.
// The spec names the domain only; the layout is the OMM one [OMM].
type ServiceInfo struct {
	ID       int64  // the Map key: the numeric service ID
	Name     string // e.g. "ELEKTRON_DD"
	Vendor   string
	IsSource bool
	// Capabilities are the domains the service provides.
	Capabilities         []trjson.Domain
	DictionariesProvided []string
	DictionariesUsed     []string
	// QoS lists the qualities of service offered, if the Info filter
	// carries any.
	QoS              []trjson.Qos
	SupportsQosRange bool
	// HasState tells whether a State filter was received; Up is
	// ServiceState 1, AcceptingRequests the flag of that name.
	HasState          bool
	Up                bool
	AcceptingRequests bool
}

// DecodeDirectory decodes a Source Directory Map (Image.Map of
// Client.Directory, or Msg.Map of a Source refresh or update) into its
// services, sorted by ID. Entries with Action Delete are left out.
func DecodeDirectory(m trjson.Raw) ([]ServiceInfo, error) {
	d := directory{}
	if err := d.apply(m); err != nil {
		return nil, err
	}
	return d.services(), nil
}

// directory accumulates Source Directory Maps: refresh parts and updates.
type directory map[int64]*ServiceInfo

// dirFilterList is a FilterList as encoding/json sees it.
type dirFilterList struct {
	Entries []struct {
		ID       int64
		Action   json.RawMessage
		Elements map[string]json.RawMessage
	}
}

func (d directory) apply(raw trjson.Raw) error {
	mp, err := trjson.DecodeMap(raw) // keys and actions, strictly
	if err != nil {
		return fmt.Errorf("consumer: source directory: %w", err)
	}
	// DecodeMap leaves FilterList payloads aside; read them here.
	var doc struct {
		Entries []struct{ FilterList *dirFilterList }
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("consumer: source directory: %w", err)
	}
	if len(doc.Entries) != len(mp.Entries) {
		return fmt.Errorf("consumer: source directory: %d entries, %d decoded", len(doc.Entries), len(mp.Entries))
	}
	for i, e := range mp.Entries {
		id, err := strconv.ParseInt(e.Key, 10, 64)
		if err != nil {
			return fmt.Errorf("consumer: source directory: service key %q is not a number", e.Key)
		}
		if e.Action == trjson.MapDelete {
			delete(d, id)
			continue
		}
		s := d[id]
		if s == nil || e.Action == trjson.MapAdd {
			s = &ServiceInfo{ID: id}
			d[id] = s
		}
		if fl := doc.Entries[i].FilterList; fl != nil {
			for _, f := range fl.Entries {
				if actionIs(f.Action, "Clear", 3) {
					clearFilter(s, f.ID)
					continue
				}
				if actionIs(f.Action, "Set", 2) {
					clearFilter(s, f.ID) // Set replaces the filter; Update merges
				}
				if err := s.set(f.ID, f.Elements); err != nil {
					return fmt.Errorf("consumer: source directory: service %d: %w", id, err)
				}
			}
		}
	}
	return nil
}

// actionIs matches a FilterList action given as a name or an RWF number
// (1 Update, 2 Set, 3 Clear).
func actionIs(raw json.RawMessage, name string, num int) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == name
	}
	var n int
	return json.Unmarshal(raw, &n) == nil && n == num
}

func clearFilter(s *ServiceInfo, id int64) {
	switch id {
	case 1:
		*s = ServiceInfo{ID: s.ID, HasState: s.HasState, Up: s.Up, AcceptingRequests: s.AcceptingRequests}
	case 2:
		s.HasState, s.Up, s.AcceptingRequests = false, false, false
	}
}

// set applies the elements of filter id (1 Info, 2 State; others ignored).
func (s *ServiceInfo) set(id int64, els map[string]json.RawMessage) error {
	if id == 2 {
		s.HasState = true
	}
	for k, v := range els {
		var err error
		switch {
		case id == 1 && k == "Name":
			err = json.Unmarshal(v, &s.Name)
		case id == 1 && k == "Vendor":
			err = json.Unmarshal(v, &s.Vendor)
		case id == 1 && k == "IsSource":
			s.IsSource, err = flag(v)
		case id == 1 && k == "SupportsQosRange":
			s.SupportsQosRange, err = flag(v)
		case id == 1 && k == "Capabilities":
			s.Capabilities, err = domains(v)
		case id == 1 && k == "DictionariesProvided":
			err = arrayData(v, &s.DictionariesProvided)
		case id == 1 && k == "DictionariesUsed":
			err = arrayData(v, &s.DictionariesUsed)
		case id == 1 && (k == "QoS" || k == "Qos"):
			s.QoS, err = qosList(v)
		case id == 2 && k == "ServiceState":
			s.Up, err = flag(v)
		case id == 2 && k == "AcceptingRequests":
			s.AcceptingRequests, err = flag(v)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

func flag(v json.RawMessage) (bool, error) {
	var n int64
	if err := json.Unmarshal(v, &n); err != nil {
		return false, err
	}
	return n != 0, nil
}

// arrayData reads an Array either in the typed form {"Type":…,"Data":[…]}
// (§14) or as a bare JSON array.
func arrayData(v json.RawMessage, dst any) error {
	var typed struct{ Data json.RawMessage }
	if len(v) > 0 && v[0] == '{' {
		if err := json.Unmarshal(v, &typed); err != nil {
			return err
		}
		v = typed.Data
	}
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	return json.Unmarshal(v, dst)
}

// domains reads Capabilities: domain numbers (RWF) or names.
func domains(v json.RawMessage) ([]trjson.Domain, error) {
	var items []json.RawMessage
	if err := arrayData(v, &items); err != nil {
		return nil, err
	}
	out := make([]trjson.Domain, 0, len(items))
	for _, it := range items {
		var n int64
		if json.Unmarshal(it, &n) == nil {
			if d, ok := trjson.DomainFromNumber(n); ok {
				out = append(out, d)
			}
			continue
		}
		var name string
		if err := json.Unmarshal(it, &name); err != nil {
			return nil, err
		}
		if d, ok := trjson.ParseDomain([]byte(name)); ok {
			out = append(out, d)
		}
	}
	return out, nil
}

func qosList(v json.RawMessage) ([]trjson.Qos, error) {
	var qs []struct {
		Timeliness, Rate   json.RawMessage
		RateInfo, TimeInfo int64
		Dynamic            bool
	}
	if err := arrayData(v, &qs); err != nil {
		return nil, err
	}
	out := make([]trjson.Qos, len(qs))
	for i, q := range qs {
		out[i] = trjson.Qos{Timeliness: enumText(q.Timeliness), Rate: enumText(q.Rate),
			RateInfo: q.RateInfo, TimeInfo: q.TimeInfo, Dynamic: q.Dynamic}
	}
	return out, nil
}

// enumText keeps a QoS enumeration as text (a number as its decimal form).
func enumText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

func (d directory) services() []ServiceInfo {
	out := make([]ServiceInfo, 0, len(d))
	for _, s := range d {
		c := *s
		c.Capabilities = append([]trjson.Domain(nil), s.Capabilities...)
		c.DictionariesProvided = append([]string(nil), s.DictionariesProvided...)
		c.DictionariesUsed = append([]string(nil), s.DictionariesUsed...)
		c.QoS = append([]trjson.Qos(nil), s.QoS...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
