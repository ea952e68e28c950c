package fs

import (
	"reflect"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// With allow_root, every request of a user other than the mounting one and root is
// refused with EACCES, but those on handles already open, as libfuse does; the mounting
// user and root pass through to the tree. Every method of the interface is tried, so
// one that go-fuse adds and ownerAndRoot lets through unchecked fails here.
func TestAllowRootRefusesOtherUsers(t *testing.T) {
	const owner, other = 1000, 1001
	onOpenHandles := map[string]bool{
		"Read": true, "Write": true, "Writev": true, "Fsync": true, "Release": true,
		"ReadDir": true, "ReadDirPlus": true, "ReleaseDir": true, "FsyncDir": true,
	}
	inner := fuse.NewDefaultRawFileSystem()
	var wrapped fuse.RawFileSystem = &ownerAndRoot{RawFileSystem: inner, owner: owner}
	v, innerV := reflect.ValueOf(wrapped), reflect.ValueOf(inner)
	iface := reflect.TypeOf((*fuse.RawFileSystem)(nil)).Elem()
	statusType := reflect.TypeOf(fuse.OK)
	tried := 0
	for i := 0; i < iface.NumMethod(); i++ {
		m := iface.Method(i)
		if m.Type.NumOut() == 0 || m.Type.Out(m.Type.NumOut()-1) != statusType || m.Type.NumIn() < 2 {
			continue // Forget, Init, String, ...: no caller, or nothing to refuse
		}
		for _, uid := range []uint32{owner, 0, other} {
			args := make([]reflect.Value, m.Type.NumIn())
			hasCaller := false
			for j := range args {
				at := m.Type.In(j)
				args[j] = reflect.Zero(at)
				if at.Kind() != reflect.Pointer || at.Elem().Kind() != reflect.Struct {
					continue
				}
				p := reflect.New(at.Elem())
				var h *fuse.InHeader
				if at.Elem() == reflect.TypeOf(fuse.InHeader{}) {
					h = p.Interface().(*fuse.InHeader)
				} else if f := p.Elem().FieldByName("InHeader"); f.IsValid() {
					h = f.Addr().Interface().(*fuse.InHeader)
				}
				if h != nil {
					h.Uid, hasCaller = uid, true
				}
				args[j] = p
			}
			if !hasCaller {
				continue
			}
			out := v.MethodByName(m.Name).Call(args)
			got := out[len(out)-1].Interface().(fuse.Status)
			passed := innerV.MethodByName(m.Name).Call(args)
			want := passed[len(passed)-1].Interface().(fuse.Status) // the tree's own answer
			if uid == other && !onOpenHandles[m.Name] {
				want = fuse.EACCES
			}
			if got != want {
				t.Errorf("%s by uid %d: %v; want %v", m.Name, uid, got, want)
			}
			tried++
		}
	}
	if tried < 3*30 {
		t.Errorf("tried only %d calls; the interface has more methods with a caller", tried)
	}
}
