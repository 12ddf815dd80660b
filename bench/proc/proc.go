// Package proc starts the processes under test and reads what the kernel
// knows about them: CPU time from /proc/<pid>/stat and resident memory from
// /proc/<pid>/status.
package proc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one running child process.
type Proc struct {
	Name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// Start runs bin with args, its output going straight to the file logPath
// (no pipe for the harness to copy, so logging costs only the child).
func Start(name, logPath, bin string, args ...string) (*Proc, error) {
	return StartEnv(name, logPath, nil, bin, args...)
}

// StartEnv is Start with env ("KEY=value") added to the harness's own
// environment.
func StartEnv(name, logPath string, env []string, bin string, args ...string) (*Proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	p := &Proc{Name: name, cmd: exec.Command(bin, args...), logPath: logPath, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Log returns the last n bytes of the process's output.
func (p *Proc) Log(n int64) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// Stop interrupts the process and kills it if it has not ended in 10 s.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// clockTicks is USER_HZ, the unit of utime and stime. It is 100 on every
// Linux architecture Go supports; getconf confirms it where available.
var clockTicks = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if n, perr := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && perr == nil && n > 0 {
		return float64(n)
	}
	return 100
})

// CPUSeconds is the user plus system CPU time the process (all its
// threads) has used so far.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// plain numbers. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc: bad stat for pid %d", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("proc: short stat for pid %d", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc: bad utime/stime for pid %d", pid)
	}
	return float64(ut+st) / clockTicks(), nil
}

// SystemBusySeconds is the CPU time all CPUs have spent running processes
// (user, nice and system time) since boot, from the first line of
// /proc/stat. Interrupt time is left out: the kernel charges loopback
// packet processing there rather than to the processes it serves.
func SystemBusySeconds() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "cpu" {
		return 0, fmt.Errorf("proc: unexpected /proc/stat line %q", line)
	}
	var busy uint64
	for _, v := range f[1:4] { // user nice system
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc: /proc/stat: %w", err)
		}
		busy += n
	}
	return float64(busy) / clockTicks(), nil
}

// RSSBytes is the process's resident set size (VmRSS).
func RSSBytes(pid int) (int64, error) {
	v, err := statusField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
	return v * 1024, err
}

// statusField reads a "Key:   123 kB" line of a /proc status-like file.
func statusField(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), key); ok {
			fs := strings.Fields(rest)
			if len(fs) == 0 {
				break
			}
			return strconv.ParseInt(fs[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("proc: no %s in %s", key, path)
}

// RaiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the new limit. Children inherit it: setting it explicitly stops Go from
// restoring the original soft limit in the processes it starts.
func RaiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return l.Cur, nil
}

// Machine describes the host a result was measured on.
type Machine struct {
	NProc       int    `json:"nproc"`
	CPUModel    string `json:"cpu_model"`
	MemTotalMiB int64  `json:"mem_total_mib"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
	Envoy       string `json:"envoy_version"`
	FileLimit   uint64 `json:"nofile_limit"`
}

// Describe gathers machine facts; envoyBin is asked for its version.
func Describe(envoyBin string) Machine {
	m := Machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if kb, err := statusField("/proc/meminfo", "MemTotal:"); err == nil {
		m.MemTotalMiB = kb / 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command(envoyBin, "--version").Output(); err == nil {
		m.Envoy = strings.TrimSpace(string(out))
		if i := strings.Index(m.Envoy, "version: "); i >= 0 {
			m.Envoy = m.Envoy[i+len("version: "):]
		}
	}
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
		m.FileLimit = l.Cur
	}
	return m
}
