// SPDX-License-Identifier: MIT
//
// The Go server the exec handler's tests pool: its listener comes from
// activation.Listeners() of github.com/coreos/go-systemd (LISTEN_FDS,
// LISTEN_PID), it reports READY=1 with daemon.SdNotify and, when
// preforkd sets WATCHDOG_USEC, pings WATCHDOG=1 at a third of it. On
// SIGTERM (preforkd's stop signal) it finishes the requests in progress
// and exits 0. Every answer names its pid and slot.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/activation"
	"github.com/coreos/go-systemd/daemon"
)

func main() {
	listeners, err := activation.Listeners()
	if err != nil || len(listeners) != 1 {
		fmt.Fprintf(os.Stderr, "goserver: expected one socket from LISTEN_FDS (%d, %v)\n", len(listeners), err)
		os.Exit(1)
	}
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
		go func() {
			for {
				daemon.SdNotify(false, daemon.SdNotifyWatchdog)
				time.Sleep(interval / 3)
			}
		}()
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pid=%d slot=%s generation=%s\n", os.Getpid(), os.Getenv("PREFORKD_SLOT"),
			os.Getenv("PREFORKD_GENERATION"))
	})
	server := &http.Server{}
	stop := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(stop, syscall.SIGTERM)
	go func() {
		<-stop
		daemon.SdNotify(false, daemon.SdNotifyStopping)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		server.Shutdown(ctx)
		close(done)
	}()
	fmt.Fprintf(os.Stderr, "goserver: serving as pid %d\n", os.Getpid())
	daemon.SdNotify(false, daemon.SdNotifyReady)
	if err := server.Serve(listeners[0]); err != http.ErrServerClosed {
		fmt.Fprintf(os.Stderr, "goserver: %v\n", err)
		os.Exit(1)
	}
	// Serve returns as soon as Shutdown begins: the requests in progress
	// are finished by the time Shutdown returns.
	<-done
	fmt.Fprintf(os.Stderr, "goserver: stopped\n")
}
