package s3server

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// SeaweedFS derives every gRPC port from its HTTP port by adding grpcOffset. HTTP ports are drawn from
// [portLow, portHigh), so the gRPC ports land in [22000, 32000), below the Linux ephemeral range (32768 and up) from
// which outgoing connections take their source ports: a port there could be taken by some connection between our
// check and weed's bind.
const (
	grpcOffset = 10000
	portLow    = 12000
	portHigh   = 22000
)

var (
	portMu    sync.Mutex
	portTaken = map[int]bool{} // handed out by this process, never reused (Restart needs them again)
)

// pickPorts returns n distinct HTTP ports p such that both p and p+grpcOffset are free on 127.0.0.1 and were not handed
// out before by this process. Other processes may race for them; Start retries with fresh ports if weed reports a
// port conflict.
func pickPorts(n int) ([]int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	var out []int
	for tries := 0; len(out) < n && tries < 5000; tries++ {
		p := portLow + rand.IntN(portHigh-portLow)
		if portTaken[p] || portTaken[p+grpcOffset] {
			continue
		}
		if !canBind(p) || !canBind(p+grpcOffset) {
			continue
		}
		portTaken[p] = true
		portTaken[p+grpcOffset] = true
		out = append(out, p)
	}
	if len(out) < n {
		return nil, fmt.Errorf("s3server: found only %d of %d free loopback port pairs in [%d, %d)", len(out), n, portLow, portHigh)
	}
	return out, nil
}

func canBind(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
