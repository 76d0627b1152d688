// Small facts the TypeScript side needs from libbpf and the kernel.
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace pw {

// mountBpffs(path): mount(2) of a bpf filesystem at path (what `mount -t bpf bpf PATH` does).
static Napi::Value MountBpffs(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  if (mount("bpf", path.c_str(), "bpf", 0, nullptr) < 0) ThrowErrno(info.Env(), errno, "mount", path);
  return info.Env().Undefined();
}

// lockFile(path) -> Fd holding an exclusive flock(2) on path (created 0600), or null when
// another open file holds it. The lock lasts as long as the fd: closing it, or the process
// ending however it ends, releases it. Never waits.
static Napi::Value LockFile(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) ThrowErrno(info.Env(), errno, "open", path);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) return info.Env().Null();
    ThrowErrno(info.Env(), err, "flock", path);
  }
  return NewFd(info.Env(), fd, "lock");
}

static Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), std::to_string(libbpf_major_version()) + "." +
                                           std::to_string(libbpf_minor_version()));
}

static Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned idx = if_nametoindex(name.c_str());
  if (!idx) ThrowErrno(info.Env(), errno, "if_nametoindex", "interface '" + name + "'");
  return Napi::Number::New(info.Env(), idx);
}

static Napi::Value IfIndexToName(const Napi::CallbackInfo& info) {
  char buf[IF_NAMESIZE];
  uint32_t idx = ArgU32(info, 0, "ifindex");
  if (!if_indextoname(idx, buf)) ThrowErrno(info.Env(), errno, "if_indextoname", "ifindex " + std::to_string(idx));
  return Napi::String::New(info.Env(), buf);
}

// probeProgType(type) -> boolean: can this kernel load programs of that type?
static Napi::Value ProbeProgType(const Napi::CallbackInfo& info) {
  int r = libbpf_probe_bpf_prog_type((enum bpf_prog_type)ArgU32(info, 0, "type"), nullptr);
  if (r < 0) ThrowErrno(info.Env(), r, "libbpf_probe_bpf_prog_type");
  return Napi::Boolean::New(info.Env(), r == 1);
}

static Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  int r = libbpf_probe_bpf_map_type((enum bpf_map_type)ArgU32(info, 0, "type"), nullptr);
  if (r < 0) ThrowErrno(info.Env(), r, "libbpf_probe_bpf_map_type");
  return Napi::Boolean::New(info.Env(), r == 1);
}

// setNetns(path) -> Fd of the namespace the JS thread was in. setns(2) moves only the calling
// thread: synchronous netlink work (attach, if_nametoindex) then happens in the target
// namespace; libuv's worker threads stay where they were. Callers restore with setNetnsFd.
static Napi::Value SetNetns(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  int old = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (old < 0) ThrowErrno(info.Env(), errno, "open", "/proc/thread-self/ns/net");
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(old);
    ThrowErrno(info.Env(), err, "open", path);
  }
  if (setns(target, CLONE_NEWNET)) {
    int err = errno;
    close(old);
    close(target);
    ThrowErrno(info.Env(), err, "setns", path);
  }
  close(target);
  return NewFd(info.Env(), old, "netns");
}

static Napi::Value SetNetnsFd(const Napi::CallbackInfo& info) {
  if (setns(ArgInt(info, 0, "fd"), CLONE_NEWNET)) ThrowErrno(info.Env(), errno, "setns");
  return info.Env().Undefined();
}

// interfaces() -> [{ ifindex, name }] of the calling thread's network namespace (sysfs shows
// the namespace it was mounted in, which is not ours after setNetns).
static Napi::Value Interfaces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct if_nameindex* list = if_nameindex();
  if (!list) ThrowErrno(env, errno, "if_nameindex");
  Napi::Array arr = Napi::Array::New(env);
  uint32_t n = 0;
  for (struct if_nameindex* p = list; p->if_index; p++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("ifindex", (double)p->if_index);
    o.Set("name", p->if_name);
    arr.Set(n++, o);
  }
  if_freenameindex(list);
  return arr;
}

// ifHwAddr(name) -> Buffer(6): the interface's MAC, asked of the calling thread's namespace.
static Napi::Value IfHwAddr(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  if (name.size() >= IFNAMSIZ) ThrowErrno(info.Env(), ENAMETOOLONG, "ifHwAddr", name);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, name.c_str(), name.size());
  int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
  int err = errno;
  close(fd);
  if (rc < 0) ThrowErrno(info.Env(), err, "ioctl(SIOCGIFHWADDR)", name);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<uint8_t*>(ifr.ifr_hwaddr.sa_data), 6);
}

void InitMisc(Napi::Env env, Napi::Object exports) {
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("mountBpffs", Napi::Function::New(env, MountBpffs));
  exports.Set("lockFile", Napi::Function::New(env, LockFile));
  exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndex));
  exports.Set("ifIndexToName", Napi::Function::New(env, IfIndexToName));
  exports.Set("probeProgType", Napi::Function::New(env, ProbeProgType));
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType));
  exports.Set("setNetns", Napi::Function::New(env, SetNetns));
  exports.Set("interfaces", Napi::Function::New(env, Interfaces));
  exports.Set("ifHwAddr", Napi::Function::New(env, IfHwAddr));
  exports.Set("setNetnsFd", Napi::Function::New(env, SetNetnsFd));
}

}  // namespace pw
