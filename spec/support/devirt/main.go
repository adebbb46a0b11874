// devirt: a program whose hot indirect calls (an interface call, a function-value call, a
// closure call) go to a mix of targets chosen on the command line, for the specs that
// check pgolua's devirtualization view against the compiler's (-d=pgodebug=2).
//
//	devirt -mix 80 -seconds 2 -o a.pgo   # 80% of the calls to the first target
package main

import (
	"flag"
	"log"
	"os"
	"runtime/pprof"
	"syscall"
)

type Shape interface{ Area() float64 }

type Square struct{ side float64 }
type Circle struct{ r float64 }

// The targets spin in their own bodies, not in a call: a sample's two leaf frames (all
// the compiler reads) are then the call site and its target, so the site's edges carry
// nearly every sample and their split follows the call split closely.
func (s Square) Area() float64 {
	x := s.side
	for i := 0; i < 40; i++ {
		x = x*1.0000001 + 0.5
	}
	return x
}

func (c Circle) Area() float64 {
	x := c.r
	for i := 0; i < 40; i++ {
		x = x*1.0000001 + 0.5
	}
	return x * 3.14159
}

// spin costs about the same whatever the value, so the CPU split follows the call split.
func spin(x float64, n int) float64 {
	for i := 0; i < n; i++ {
		x = x*1.0000001 + 0.5
	}
	return x
}

// sumAreas: the interface call site.
func sumAreas(shapes []Shape) float64 {
	t := 0.0
	for _, s := range shapes {
		t += s.Area()
	}
	return t
}

func double(x int) int {
	y := float64(x)
	for i := 0; i < 40; i++ {
		y = y*1.0000001 + 0.5
	}
	return int(y) * 2
}

func square(x int) int {
	y := float64(x)
	for i := 0; i < 40; i++ {
		y = y*1.0000001 + 0.5
	}
	return int(y) * x
}

// applyAll: the function-value call site.
func applyAll(fs []func(int) int, x int) int {
	t := 0
	for _, f := range fs {
		t += f(x)
	}
	return t
}

// closures: a function-value call whose targets are closures (never devirtualized).
func closures(k int) []func(int) int {
	return []func(int) int{
		func(x int) int { return int(spin(float64(x+k), 40)) },
		func(x int) int { return int(spin(float64(x*k), 40)) },
	}
}

// cpuSeconds is the CPU time (user + system) the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func main() {
	mix := flag.Int("mix", 80, "percent of the calls that go to Square / double / the first closure")
	seconds := flag.Float64("seconds", 2, "how long to run, in CPU seconds")
	out := flag.String("o", "cpu.pgo", "CPU profile to write")
	flag.Parse()
	shapes := make([]Shape, 100)
	fs := make([]func(int) int, 100)
	cl := make([]func(int) int, 100)
	cs := closures(3)
	for i := range shapes {
		if i < *mix {
			shapes[i], fs[i], cl[i] = Square{1}, double, cs[0]
		} else {
			shapes[i], fs[i], cl[i] = Circle{1}, square, cs[1]
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	sink := 0.0
	// CPU time, not wall time: the profiler samples CPU time, so a loaded machine still
	// gets about 100 samples a second of work, enough for the mix to show
	for start := cpuSeconds(); cpuSeconds()-start < *seconds; {
		sink += sumAreas(shapes)
		sink += float64(applyAll(fs, 2))
		sink += float64(applyAll(cl, 2))
	}
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	if sink == 42 {
		println()
	}
}
