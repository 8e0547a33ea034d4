package server

import (
	"github.com/ertkit/ertkit/trjson"
)

// DefaultCurveService and DefaultCurveServiceID name the service of Yield
// Curve items (the §34 sample's ATS service).
const (
	DefaultCurveService   = "ATS201_1"
	DefaultCurveServiceID = 258
)

// The endpoints serve one service (Config.Service, ID DefaultServiceID)
// and, when the Universe serves yield curves (CurveUniverse), a second
// one for them (Config.CurveService, ID DefaultCurveServiceID), as an ADS
// fed by an Advanced Transformation Server does: §34's sample requests
// the curve BASIC from service ATS201_1.

// curvesServed reports whether the curve service exists.
func (c *conn) curvesServed() bool {
	if c.cfg.Source != nil {
		return false
	}
	_, ok := c.cfg.Universe.(CurveUniverse)
	return ok
}

// resolveService returns the service a request's Key names (by name or
// ID; none is the default service); ok is false for an unknown service.
func (c *conn) resolveService(k *trjson.Key) (string, bool) {
	if k.HasServiceID {
		switch {
		case k.ServiceID == DefaultServiceID:
			return c.cfg.Service, true
		case k.ServiceID == DefaultCurveServiceID && c.curvesServed():
			return c.cfg.CurveService, true
		}
		return "", false
	}
	switch {
	case k.Service == "" || k.Service == c.cfg.Service:
		return c.cfg.Service, true
	case k.Service == c.cfg.CurveService && c.curvesServed():
		return c.cfg.CurveService, true
	}
	return "", false
}

// serviceName is the service stream s is open on.
func (s *sub) serviceName() string {
	if s.service != "" {
		return s.service
	}
	return s.c.cfg.Service
}

// onService sets the Key.Service of a Status built by statusFor to svc.
func onService(m *trjson.Msg, svc string) *trjson.Msg {
	if m.HasKey && svc != "" {
		m.Key.Service = svc
	}
	return m
}

// domainRefusal is the State.Text refusing domain d on service svc, or ""
// when svc serves d: the curve service serves Yield Curves only, the
// default service everything else.
func (c *conn) domainRefusal(d trjson.Domain, svc string) string {
	curveSvc := svc == c.cfg.CurveService && c.curvesServed()
	switch {
	case curveSvc && d == trjson.DomainYieldCurve, !curveSvc && d != trjson.DomainYieldCurve:
		return ""
	case !curveSvc && c.curvesServed():
		return "Domain YieldCurve is not supported by service " + svc + "; Yield Curve items are served by service " + c.cfg.CurveService
	case curveSvc:
		return "Domain " + d.String() + " is not supported by service " + svc
	}
	return "Domain " + d.String() + " is not supported by this service"
}

// serviceKnown reports whether k names the default service (posts go to
// it only: the curve service takes none).
func (c *conn) serviceKnown(k *trjson.Key) bool {
	svc, ok := c.resolveService(k)
	return ok && svc == c.cfg.Service
}
