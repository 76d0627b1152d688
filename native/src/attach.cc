// Attaching programs: XDP through netlink (survives the process, atomic replace with
// XDP_FLAGS_REPLACE) or through a bpf_link (owned by an fd, pinnable, updated atomically);
// TC through clsact hooks (bpf_tc_*). Pins in bpffs for any object fd.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace pw {

// xdpAttach(ifindex, progFd, flags, oldProgFd?) — netlink attach. With XDP_FLAGS_REPLACE and
// oldProgFd, the kernel swaps programs atomically and fails if another program is attached.
static Napi::Value XdpAttach(const Napi::CallbackInfo& info) {
  int ifindex = ArgInt(info, 0, "ifindex");
  int progFd = ArgInt(info, 1, "progFd");
  uint32_t flags = ArgU32(info, 2, "flags");
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  if (info.Length() > 3 && info[3].IsNumber()) opts.old_prog_fd = info[3].As<Napi::Number>().Int32Value();
  int err = bpf_xdp_attach(ifindex, progFd, flags, &opts);
  if (err) ThrowErrno(info.Env(), err, "bpf_xdp_attach", "ifindex " + std::to_string(ifindex));
  return info.Env().Undefined();
}

// xdpDetach(ifindex, flags, oldProgFd?) — with XDP_FLAGS_REPLACE + oldProgFd, detaches only if
// that program is still the attached one (never removes somebody else's program).
static Napi::Value XdpDetach(const Napi::CallbackInfo& info) {
  int ifindex = ArgInt(info, 0, "ifindex");
  uint32_t flags = ArgU32(info, 1, "flags");
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  if (info.Length() > 2 && info[2].IsNumber()) opts.old_prog_fd = info[2].As<Napi::Number>().Int32Value();
  int err = bpf_xdp_detach(ifindex, flags, &opts);
  if (err) ThrowErrno(info.Env(), err, "bpf_xdp_detach", "ifindex " + std::to_string(ifindex));
  return info.Env().Undefined();
}

// xdpLinkCreate(progFd, ifindex, flags) -> Fd(link). The link holds the attachment while its fd
// (or a pin of it) lives.
static Napi::Value XdpLinkCreate(const Napi::CallbackInfo& info) {
  int progFd = ArgInt(info, 0, "progFd");
  int ifindex = ArgInt(info, 1, "ifindex");
  LIBBPF_OPTS(bpf_link_create_opts, opts);
  opts.flags = info.Length() > 2 ? ArgU32(info, 2, "flags") : 0;
  int fd = bpf_link_create(progFd, ifindex, BPF_XDP, &opts);
  if (fd < 0) ThrowErrno(info.Env(), errno, "bpf_link_create", "ifindex " + std::to_string(ifindex));
  return NewFd(info.Env(), fd, "link");
}

// linkUpdate(linkFd, newProgFd, oldProgFd?) — atomic program replacement on a link.
static Napi::Value LinkUpdate(const Napi::CallbackInfo& info) {
  LIBBPF_OPTS(bpf_link_update_opts, opts);
  if (info.Length() > 2 && info[2].IsNumber()) {
    opts.old_prog_fd = info[2].As<Napi::Number>().Int32Value();
    opts.flags = BPF_F_REPLACE;
  }
  if (bpf_link_update(ArgInt(info, 0, "linkFd"), ArgInt(info, 1, "progFd"), &opts))
    ThrowErrno(info.Env(), errno, "bpf_link_update");
  return info.Env().Undefined();
}

static Napi::Value LinkDetach(const Napi::CallbackInfo& info) {
  if (bpf_link_detach(ArgInt(info, 0, "linkFd"))) ThrowErrno(info.Env(), errno, "bpf_link_detach");
  return info.Env().Undefined();
}

static bpf_tc_attach_point TcPoint(const Napi::CallbackInfo& info, size_t i) {
  std::string p = ArgString(info, i, "point");
  if (p == "ingress") return BPF_TC_INGRESS;
  if (p == "egress") return BPF_TC_EGRESS;
  throw Napi::TypeError::New(info.Env(), "point must be 'ingress' or 'egress', got '" + p + "'");
}

// tcAttach(ifindex, point, progFd, {handle, priority, replace}) -> { handle, priority, progId,
// hookCreated }. Creates the clsact qdisc when missing and says so, so the caller can remove
// only what it created.
static Napi::Value TcAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int ifindex = ArgInt(info, 0, "ifindex");
  bpf_tc_attach_point point = TcPoint(info, 1);
  int progFd = ArgInt(info, 2, "progFd");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
  bool created = true;
  int err = bpf_tc_hook_create(&hook);
  if (err == -EEXIST) created = false;
  else if (err) ThrowErrno(env, err, "bpf_tc_hook_create", "ifindex " + std::to_string(ifindex));
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = progFd);
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    if (o.Has("handle")) opts.handle = o.Get("handle").As<Napi::Number>().Uint32Value();
    if (o.Has("priority")) opts.priority = o.Get("priority").As<Napi::Number>().Uint32Value();
    if (o.Has("replace") && o.Get("replace").ToBoolean()) opts.flags = BPF_TC_F_REPLACE;
  }
  err = bpf_tc_attach(&hook, &opts);
  if (err) ThrowErrno(env, err, "bpf_tc_attach", "ifindex " + std::to_string(ifindex));
  Napi::Object r = Napi::Object::New(env);
  r.Set("handle", (double)opts.handle);
  r.Set("priority", (double)opts.priority);
  r.Set("progId", (double)opts.prog_id);
  r.Set("hookCreated", created);
  return r;
}

// tcDetach(ifindex, point, handle, priority)
static Napi::Value TcDetach(const Napi::CallbackInfo& info) {
  int ifindex = ArgInt(info, 0, "ifindex");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = TcPoint(info, 1));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = ArgU32(info, 2, "handle"), .priority = ArgU32(info, 3, "priority"));
  int err = bpf_tc_detach(&hook, &opts);
  if (err) ThrowErrno(info.Env(), err, "bpf_tc_detach", "ifindex " + std::to_string(ifindex));
  return info.Env().Undefined();
}

// tcQuery(ifindex, point, handle, priority) -> progId | null
static Napi::Value TcQuery(const Napi::CallbackInfo& info) {
  int ifindex = ArgInt(info, 0, "ifindex");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = TcPoint(info, 1));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = ArgU32(info, 2, "handle"), .priority = ArgU32(info, 3, "priority"));
  int err = bpf_tc_query(&hook, &opts);
  if (err == -ENOENT || err == -EINVAL) return info.Env().Null();
  if (err) ThrowErrno(info.Env(), err, "bpf_tc_query", "ifindex " + std::to_string(ifindex));
  return Napi::Number::New(info.Env(), opts.prog_id);
}

// tcHookDestroy(ifindex) — removes the clsact qdisc (and every filter on it). Only for hooks
// the caller created.
static Napi::Value TcHookDestroy(const Napi::CallbackInfo& info) {
  int ifindex = ArgInt(info, 0, "ifindex");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
              .attach_point = (bpf_tc_attach_point)(BPF_TC_INGRESS | BPF_TC_EGRESS));
  int err = bpf_tc_hook_destroy(&hook);
  if (err && err != -ENOENT) ThrowErrno(info.Env(), err, "bpf_tc_hook_destroy", "ifindex " + std::to_string(ifindex));
  return info.Env().Undefined();
}

// objPin(fd, path) / objGet(path, kind) -> Fd
static Napi::Value ObjPin(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 1, "path");
  if (bpf_obj_pin(ArgInt(info, 0, "fd"), path.c_str())) ThrowErrno(info.Env(), errno, "bpf_obj_pin", path);
  return info.Env().Undefined();
}

static Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  std::string kind = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "pinned";
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowErrno(info.Env(), errno, "bpf_obj_get", path);
  return NewFd(info.Env(), fd, kind);
}

void InitAttach(Napi::Env env, Napi::Object exports) {
  exports.Set("xdpAttach", Napi::Function::New(env, XdpAttach));
  exports.Set("xdpDetach", Napi::Function::New(env, XdpDetach));
  exports.Set("xdpLinkCreate", Napi::Function::New(env, XdpLinkCreate));
  exports.Set("linkUpdate", Napi::Function::New(env, LinkUpdate));
  exports.Set("linkDetach", Napi::Function::New(env, LinkDetach));
  exports.Set("tcAttach", Napi::Function::New(env, TcAttach));
  exports.Set("tcDetach", Napi::Function::New(env, TcDetach));
  exports.Set("tcQuery", Napi::Function::New(env, TcQuery));
  exports.Set("tcHookDestroy", Napi::Function::New(env, TcHookDestroy));
  exports.Set("objPin", Napi::Function::New(env, ObjPin));
  exports.Set("objGet", Napi::Function::New(env, ObjGet));
}

}  // namespace pw
