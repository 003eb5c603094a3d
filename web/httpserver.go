package web

import (
	"context"
	"log"
	"net"
	"net/http"
)

// maxHeaderBytes bounds a request's headers.
const maxHeaderBytes = 64 << 10

// HTTPServer returns the http.Server that serves this API on ln, and the listener to serve it on:
// ln within the connection cap (Config.MaxConns). The server bounds the time to send headers
// (HeaderTimeout) and to keep an idle connection (IdleTimeout); bodies are bounded per request
// (BodyReadTimeout, GatewayBodyTimeout). base is every request's parent context.
func (s *Server) HTTPServer(ln net.Listener, base context.Context, errorLog *log.Logger) (*http.Server, net.Listener) {
	cl := newConnLimit(ln, s.cfg.MaxConns)
	s.conns.Store(cl)
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
		ConnState:         cl.connState,
		ConnContext:       cl.connContext,
		ErrorLog:          errorLog,
	}
	return hs, cl
}
