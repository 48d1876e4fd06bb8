// Command grpclb-greeter is a stock grpc-go grpclb client used by the lookaside integration tests:
// it resolves its target through a manual resolver whose only state is the LB server's address
// (grpclb's BalancerAddresses), selects the grpclb policy by service config, and calls
// helloworld.Greeter/SayHello. HelloRequest and HelloReply have the wire shape of
// google.protobuf.StringValue (one string, field 1), so no generated stubs are needed.
//
// Usage: grpclb-greeter -lb 127.0.0.1:PORT -target greeter:443 -calls 800
// It prints one JSON line {"byBackend":{...},"failures":N,"firstError":"..."} after the calls,
// then keeps its channel (and the grpclb stream, which reports ClientStats) open: each line on
// stdin holding a number N makes N more calls on the same channel and prints their JSON line;
// it exits when stdin closes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/balancer/grpclb"
	grpclbstate "google.golang.org/grpc/balancer/grpclb/state"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type result struct {
	ByBackend  map[string]int `json:"byBackend"`
	Failures   int            `json:"failures"`
	FirstError string         `json:"firstError,omitempty"`
}

func main() {
	lb := flag.String("lb", "", "LB server host:port")
	target := flag.String("target", "greeter", "service name as the client writes it (port allowed)")
	calls := flag.Int("calls", 100, "calls to make")
	flag.Parse()
	if *lb == "" {
		fmt.Fprintln(os.Stderr, "-lb is required")
		os.Exit(2)
	}

	r := manual.NewBuilderWithScheme("lookasidetest")
	r.InitialState(grpclbstate.Set(resolver.State{}, &grpclbstate.State{
		BalancerAddresses: []resolver.Address{{Addr: *lb, ServerName: "lb"}},
	}))
	conn, err := grpc.Dial("lookasidetest:///"+*target,
		grpc.WithInsecure(),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"grpclb":{}}]}`),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer conn.Close()

	report(conn, *calls)
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		n, err := strconv.Atoi(strings.TrimSpace(lines.Text()))
		if err != nil {
			fmt.Println(`{"error":"expected a number of calls"}`)
			continue
		}
		report(conn, n)
	}
}

// report makes n calls one after another and prints where they went as one JSON line.
func report(conn *grpc.ClientConn, n int) {
	res := result{ByBackend: map[string]int{}}
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		reply := &wrapperspb.StringValue{}
		err := conn.Invoke(ctx, "/helloworld.Greeter/SayHello", wrapperspb.String("go"), reply, grpc.WaitForReady(true))
		cancel()
		if err != nil {
			res.Failures++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
			continue
		}
		msg := reply.GetValue()
		at := strings.LastIndex(msg, " from ")
		res.ByBackend[msg[at+len(" from "):]]++
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}
