// Package depspin keeps planned dependencies in go.mod until code imports them.
package depspin
import (
 _ "github.com/coder/websocket"
 _ "github.com/gobwas/ws"
 _ "github.com/gobwas/ws/wsutil"
 _ "github.com/gobwas/ws/wsflate"
 _ "github.com/go-jose/go-jose/v4"
 _ "go.uber.org/goleak"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "charm.land/bubbletea/v2"
 _ "charm.land/lipgloss/v2"
)
