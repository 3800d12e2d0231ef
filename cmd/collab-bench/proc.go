package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process and machine figures from /proc (Linux). CPU times in /proc are
// in clock ticks of USER_HZ, which is 100 on every Linux the bench runs on
// (getconf CLK_TCK); Go cannot ask sysconf without cgo.
const clockTicks = 100

// procSample is one reading of a process.
type procSample struct {
	at     time.Time
	cpu    time.Duration // user + system time so far
	rss    int64         // resident bytes (VmRSS)
	hwm    int64         // peak resident bytes (VmHWM)
	thread int           // threads
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status ("self" for the
// bench).
func readProc(pid string) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, fmt.Errorf("read cpu time of process %s: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing parenthesis, where field 3 (state) begins.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("read cpu time of process %s: /proc stat has no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("read cpu time of process %s: /proc stat has %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[14-3], 10, 64)
	stime, err2 := strconv.ParseInt(f[15-3], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("read cpu time of process %s: utime %q, stime %q", pid, f[11], f[12])
	}
	s.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, fmt.Errorf("read memory of process %s: %w", pid, err)
	}
	for line := range strings.Lines(string(status)) {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "VmRSS":
			s.rss = kB(val)
		case "VmHWM":
			s.hwm = kB(val)
		case "Threads":
			s.thread, _ = strconv.Atoi(strings.TrimSpace(val))
		}
	}
	return s, nil
}

// readTreeCPU returns the CPU time so far of pid and its children (a
// Postgres postmaster and its backends), and how many processes that is.
// A child that exited between two readings takes its time with it.
func readTreeCPU(pid int) (time.Duration, int, error) {
	root, err := readProc(strconv.Itoa(pid))
	if err != nil {
		return 0, 0, err
	}
	total, n := root.cpu, 1
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, fmt.Errorf("list processes: %w", err)
	}
	want := " " + strconv.Itoa(pid) + " "
	for _, e := range entries {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // gone
		}
		// After the command name: " S PPID ".
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || len(stat) < i+4 || !bytes.HasPrefix(stat[i+4:], []byte(want[1:])) {
			continue
		}
		if p, err := readProc(name); err == nil {
			total += p.cpu
			n++
		}
	}
	return total, n, nil
}

// kB parses "  1234 kB" into bytes.
func kB(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return n << 10
}

// machineSample is the first line of /proc/stat: CPU ticks of the whole
// machine, busy and in total.
type machineSample struct{ busy, total int64 }

func readMachine() (machineSample, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineSample{}, fmt.Errorf("read machine cpu time: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return machineSample{}, fmt.Errorf("read machine cpu time: unexpected /proc/stat line %q", line)
	}
	var m machineSample
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest and guest_nice are already in user and nice
			break
		}
		m.total += n
		if i != 3 && i != 4 { // idle, iowait
			m.busy += n
		}
	}
	return m, nil
}

// ProcStats is a process's use over the measured window.
type ProcStats struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUCores is CPU time over wall time: 1.0 is one core busy all along.
	CPUCores   float64 `json:"cpu_cores"`
	RSSStart   int64   `json:"rss_start_bytes"`
	RSSEnd     int64   `json:"rss_end_bytes"`
	RSSPeak    int64   `json:"rss_peak_bytes"` // VmHWM at the end: the peak over the process's life
	ThreadsEnd int     `json:"threads_end"`
}

// TreeStats is the CPU use of a process and its children over the
// measured window: the database server.
type TreeStats struct {
	PID        int     `json:"pid"`
	Processes  int     `json:"processes"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUCores   float64 `json:"cpu_cores"`
}

func procStats(pid int, a, b procSample) *ProcStats {
	wall := b.at.Sub(a.at).Seconds()
	cpu := (b.cpu - a.cpu).Seconds()
	ps := &ProcStats{PID: pid, CPUSeconds: round3(cpu), RSSStart: a.rss, RSSEnd: b.rss, RSSPeak: b.hwm, ThreadsEnd: b.thread}
	if wall > 0 {
		ps.CPUCores = round3(cpu / wall)
	}
	return ps
}

// MachineStats is the whole machine's CPU over the measured window.
type MachineStats struct {
	Cores int `json:"cores"`
	// BusyCores is busy CPU time over wall time, summed over cores.
	BusyCores float64 `json:"busy_cores"`
}

func machineStats(a, b machineSample, cores int) *MachineStats {
	total := b.total - a.total
	if total <= 0 {
		return nil
	}
	return &MachineStats{Cores: cores, BusyCores: round3(float64(b.busy-a.busy) / float64(total) * float64(cores))}
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit, and the
// hard limit to want when that is higher and the process may (root, up to
// fs.nr_open). It returns the soft limit in force.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("get open-file limit: %w", err)
	}
	if want > lim.Max {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && raised.Max > n {
				raised.Cur, raised.Max = n, n
			}
		}
		if raised.Max > lim.Max && syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return raised.Cur, nil
		}
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raise open-file limit to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}
