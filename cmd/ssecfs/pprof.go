package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"
)

// servePprof serves Go's profiler (net/http/pprof) at http://addr/debug/pprof/ until
// stop is called: CPU and heap profiles, goroutine stacks, execution traces. It is a
// debugging aid, off unless --pprof-addr is given, and has no authentication: an
// address that is not loopback is served, with a warning in the log. Its handlers are on
// a mux of their own; net/http/pprof also registers them on http.DefaultServeMux, which
// nothing in ssecfs serves.
func servePprof(addr string, logger *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if !isLoopback(l.Addr()) {
		logger.Warn("--pprof-addr listens beyond loopback: whoever reaches it can read this process's profiles "+
			"and goroutine stacks, without authentication; prefer 127.0.0.1:PORT", "addr", l.Addr().String())
	}
	logger.Info("serving pprof", "url", "http://"+l.Addr().String()+"/debug/pprof/")
	return servePprofListener(l), nil
}

// pprofMux holds the profiler's handlers.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also the named profiles: heap, goroutine, allocs, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// servePprofListener serves the profiler on l until stop, which closes l and waits
// (briefly) for requests in progress; a CPU profile or a trace being taken is cut.
func servePprofListener(l net.Listener) (stop func()) {
	// No write timeout: a CPU profile or a trace takes as long as it was asked to.
	srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l) // returns ErrServerClosed at stop
	}()
	return sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	})
}

// isLoopback reports whether a listener's address is reachable from this machine only.
// An unspecified address (":6060", "0.0.0.0:6060") listens on every interface.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
