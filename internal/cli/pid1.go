package cli

import (
	"io"
	"os"
)

// PID1Stdout is the stdout of a container's main process. A hook's own
// output is shown only when the hook fails; lines written here show in
// kubectl logs.
const PID1Stdout = "/proc/1/fd/1"

// Tee returns a writer that writes to w and, best effort, to the file at
// path (PID1Stdout for --log-to-pid1), and a func that closes the file.
// When the file cannot be opened it returns w alone and the reason: the
// command carries on with w.
func Tee(w io.Writer, path string) (io.Writer, func(), error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return w, func() {}, err
	}
	return io.MultiWriter(w, bestEffort{f}), func() { f.Close() }, nil
}

// bestEffort drops write errors: a PID 1 whose stdout went away must not
// stop the output on stdout.
type bestEffort struct{ w io.Writer }

func (b bestEffort) Write(p []byte) (int, error) {
	b.w.Write(p) //nolint:errcheck // best effort
	return len(p), nil
}
