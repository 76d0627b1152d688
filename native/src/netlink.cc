// rtnetlink through libmnl: the kernel state the control plane follows (links, addresses,
// neighbours, one route lookup) read as dumps, changed with single requests, and followed as
// events. Requests open a socket per call: a netlink socket belongs to the network namespace
// of the thread that made it, and callers move the JS thread between namespaces (--netns,
// inNetns). A request is answered by the kernel at once (no network round trip), like a map
// syscall. Events come through NetlinkMonitor, polled by libuv on the event loop: nothing
// here ever waits on the network.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/genetlink.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common.h"

namespace pw {

namespace {

// Receive buffer: big enough for a dump's multi-part answers (libmnl 1.0.4 has no
// kDumpBuffer of its own).
constexpr size_t kDumpBuffer = 32768;

// One netlink socket, closed on scope exit.
class Socket {
 public:
  explicit Socket(Napi::Env env, unsigned groups = 0, int bus = NETLINK_ROUTE) : env_(env) {
    nl_ = mnl_socket_open2(bus, SOCK_CLOEXEC);
    if (!nl_) ThrowErrno(env, errno, "mnl_socket_open");
    if (mnl_socket_bind(nl_, groups, MNL_SOCKET_AUTOPID) < 0) {
      int err = errno;
      mnl_socket_close(nl_);
      ThrowErrno(env, err, "mnl_socket_bind");
    }
    portid_ = mnl_socket_get_portid(nl_);
  }
  ~Socket() {
    if (nl_) mnl_socket_close(nl_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Sends `nlh` and runs `cb` on every answer until the kernel is done (a dump's NLMSG_DONE,
  // or the ACK of a request). A netlink error becomes a JS exception naming `what`.
  void Transact(nlmsghdr* nlh, mnl_cb_t cb, void* data, const char* what) {
    Send(nlh, what);
    while (!Receive(cb, data, what)) {
    }
  }

  void Send(nlmsghdr* nlh, const char* what) {
    nlh->nlmsg_seq = seq_ = static_cast<unsigned>(time(nullptr));
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) ThrowErrno(env_, errno, "mnl_socket_sendto", what);
  }

  // Runs `cb` on one datagram of answers; true when the kernel is done.
  bool Receive(mnl_cb_t cb, void* data, const char* what) {
    buf_.resize(kDumpBuffer);
    ssize_t n = mnl_socket_recvfrom(nl_, buf_.data(), buf_.size());
    if (n < 0) ThrowErrno(env_, errno, "mnl_socket_recvfrom", what);
    int r = mnl_cb_run(buf_.data(), n, seq_, portid_, cb, data);
    if (r < 0) ThrowErrno(env_, errno, "netlink", what);
    return r == MNL_CB_STOP;
  }

  mnl_socket* get() const { return nl_; }
  unsigned seq() const { return seq_; }
  unsigned portid() const { return portid_; }

 private:
  Napi::Env env_;
  mnl_socket* nl_ = nullptr;
  unsigned portid_ = 0;
  unsigned seq_ = 0;
  std::vector<char> buf_;
};

// Attribute table of one message: tb[type] for every known attribute type.
template <size_t N>
struct Attrs {
  const nlattr* tb[N + 1] = {};
  static int Collect(const nlattr* attr, void* data) {
    auto* self = static_cast<Attrs*>(data);
    int type = mnl_attr_get_type(attr);
    if (type >= 0 && static_cast<size_t>(type) <= N) self->tb[type] = attr;
    return MNL_CB_OK;
  }
  void Parse(const nlmsghdr* nlh, size_t headerLen) { mnl_attr_parse(nlh, headerLen, Collect, this); }
  const nlattr* operator[](int type) const { return type >= 0 && static_cast<size_t>(type) <= N ? tb[type] : nullptr; }
};

Napi::Value AttrBuffer(Napi::Env env, const nlattr* a) {
  if (!a) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(mnl_attr_get_payload(a)), mnl_attr_get_payload_len(a));
}

uint32_t AttrU32(const nlattr* a, uint32_t def = 0) {
  return a && mnl_attr_get_payload_len(a) >= 4 ? mnl_attr_get_u32(a) : def;
}

Napi::Object LinkObject(Napi::Env env, const nlmsghdr* nlh) {
  auto* ifm = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  Attrs<IFLA_MAX> tb;
  tb.Parse(nlh, sizeof(*ifm));
  Napi::Object o = Napi::Object::New(env);
  o.Set("ifindex", (double)ifm->ifi_index);
  o.Set("flags", (double)ifm->ifi_flags);
  o.Set("name", tb[IFLA_IFNAME] ? Napi::String::New(env, mnl_attr_get_str(tb[IFLA_IFNAME])) : env.Null());
  o.Set("mtu", (double)AttrU32(tb[IFLA_MTU]));
  o.Set("mac", AttrBuffer(env, tb[IFLA_ADDRESS]));
  o.Set("operstate", tb[IFLA_OPERSTATE] ? (double)mnl_attr_get_u8(tb[IFLA_OPERSTATE]) : 0.0);
  // The device it sits on or, for a veth, its peer (ifindex in the peer's namespace); the peer
  // is in another namespace when IFLA_LINK_NETNSID is there.
  o.Set("link", tb[IFLA_LINK] ? Napi::Value(Napi::Number::New(env, AttrU32(tb[IFLA_LINK]))) : env.Null());
  o.Set("linkElsewhere", Napi::Boolean::New(env, tb[IFLA_LINK_NETNSID] != nullptr));
  // A virtual device's kind (veth, vxlan, bridge...), nested in IFLA_LINKINFO.
  Napi::Value kind = env.Null();
  if (tb[IFLA_LINKINFO]) {
    // mnl_attr_for_each_nested is C (void* arithmetic): the same walk with mnl_attr_ok/next.
    const nlattr* info = tb[IFLA_LINKINFO];
    const char* end = static_cast<const char*>(mnl_attr_get_payload(info)) + mnl_attr_get_payload_len(info);
    for (auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(info)); mnl_attr_ok(a, end - reinterpret_cast<const char*>(a));
         a = mnl_attr_next(a)) {
      if (mnl_attr_get_type(a) == IFLA_INFO_KIND) kind = Napi::String::New(env, mnl_attr_get_str(a));
    }
  }
  o.Set("kind", kind);
  return o;
}

Napi::Object AddressObject(Napi::Env env, const nlmsghdr* nlh) {
  auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  Attrs<IFA_MAX> tb;
  tb.Parse(nlh, sizeof(*ifa));
  Napi::Object o = Napi::Object::New(env);
  o.Set("ifindex", (double)ifa->ifa_index);
  o.Set("family", (double)ifa->ifa_family);
  o.Set("prefixlen", (double)ifa->ifa_prefixlen);
  o.Set("scope", (double)ifa->ifa_scope);
  // IFA_FLAGS carries all 32 bits (ifa_flags only the low 8).
  o.Set("flags", (double)AttrU32(tb[IFA_FLAGS], ifa->ifa_flags));
  // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is always the host's own.
  o.Set("address", AttrBuffer(env, tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]));
  return o;
}

Napi::Object NeighborObject(Napi::Env env, const nlmsghdr* nlh) {
  auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
  Attrs<NDA_MAX> tb;
  tb.Parse(nlh, sizeof(*ndm));
  Napi::Object o = Napi::Object::New(env);
  o.Set("ifindex", (double)ndm->ndm_ifindex);
  o.Set("family", (double)ndm->ndm_family);
  o.Set("state", (double)ndm->ndm_state);
  o.Set("flags", (double)ndm->ndm_flags);
  o.Set("extFlags", (double)AttrU32(tb[NDA_FLAGS_EXT]));
  o.Set("dst", AttrBuffer(env, tb[NDA_DST]));
  o.Set("lladdr", AttrBuffer(env, tb[NDA_LLADDR]));
  return o;
}

struct Collected {
  Napi::Env env;
  Napi::Array out;
  uint16_t type;
  std::function<Napi::Object(Napi::Env, const nlmsghdr*)> convert;
  std::function<bool(const nlmsghdr*)> keep;
};

int CollectCb(const nlmsghdr* nlh, void* data) {
  auto* c = static_cast<Collected*>(data);
  if (nlh->nlmsg_type != c->type) return MNL_CB_OK;
  if (c->keep && !c->keep(nlh)) return MNL_CB_OK;
  c->out.Set(c->out.Length(), c->convert(c->env, nlh));
  return MNL_CB_OK;
}

uint8_t ArgFamily(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return AF_UNSPEC;
  uint32_t f = ArgU32(info, i, "family");
  if (f != AF_UNSPEC && f != AF_INET && f != AF_INET6) throw Napi::RangeError::New(info.Env(), "family must be 0, 4 (AF_INET=2) or AF_INET6 (10)");
  return static_cast<uint8_t>(f);
}

// A request in `buf`: the netlink header, then the family header zeroed, for the caller to fill.
template <typename Hdr>
std::pair<nlmsghdr*, Hdr*> Request(std::vector<char>& buf, uint16_t type, uint16_t flags) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  auto* h = static_cast<Hdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(Hdr)));
  std::memset(h, 0, sizeof(Hdr));
  return {nlh, h};
}

// A dump request: the family header zeroed but for the family.
template <typename Hdr>
nlmsghdr* DumpRequest(std::vector<char>& buf, uint16_t type, uint8_t family) {
  auto [nlh, h] = Request<Hdr>(buf, type, NLM_F_REQUEST | NLM_F_DUMP);
  *reinterpret_cast<uint8_t*>(h) = family;  // every rtnetlink family header starts with it
  return nlh;
}

// How many times an interrupted dump is read again before its error is reported.
constexpr int kDumpAttempts = 5;

bool IsErrno(const Napi::Error& e, const char* code) {
  Napi::Value c = e.Value().Get("code");
  return c.IsString() && c.As<Napi::String>().Utf8Value() == code;
}

// Runs `read`, a whole dump on a socket of its own, again from the start while the kernel marks
// it interrupted (NLM_F_DUMP_INTR: the list changed while it was read, which libmnl reports as
// EINTR), as iproute2 does. Deleting 100 veths at once interrupted every link dump the daemon
// made meanwhile.
template <typename Read>
auto RereadIfInterrupted(Read read) -> decltype(read()) {
  for (int attempt = 1;; attempt++) {
    try {
      return read();
    } catch (const Napi::Error& e) {
      if (attempt >= kDumpAttempts || !IsErrno(e, "EINTR")) throw;
    }
  }
}

// A dump answered one object per message: `request` sent for `family`, every `reply` message
// that `keep` accepts converted.
template <typename Hdr>
Napi::Array DumpObjects(Napi::Env env, uint16_t request, uint16_t reply, uint8_t family,
                        std::function<Napi::Object(Napi::Env, const nlmsghdr*)> convert,
                        std::function<bool(const nlmsghdr*)> keep, const char* what) {
  return RereadIfInterrupted([&] {
    Socket s(env);
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = DumpRequest<Hdr>(buf, request, family);
    Collected c{env, Napi::Array::New(env), reply, convert, keep};
    s.Transact(nlh, CollectCb, &c, what);
    return c.out;
  });
}

// netlinkLinks() -> [{ ifindex, name, flags, mtu, mac, operstate }]
Napi::Value Links(const Napi::CallbackInfo& info) {
  return DumpObjects<ifinfomsg>(info.Env(), RTM_GETLINK, RTM_NEWLINK, AF_UNSPEC, LinkObject, nullptr, "link dump");
}

// netlinkAddresses(family?) -> [{ ifindex, family, prefixlen, scope, flags, address }]
Napi::Value Addresses(const Napi::CallbackInfo& info) {
  return DumpObjects<ifaddrmsg>(info.Env(), RTM_GETADDR, RTM_NEWADDR, ArgFamily(info, 0), AddressObject, nullptr, "address dump");
}

// netlinkNeighbors(family?) -> [{ ifindex, family, state, flags, extFlags, dst, lladdr }]
// Proxy entries and entries without an address (bridge FDB-like) are left out.
Napi::Value Neighbors(const Napi::CallbackInfo& info) {
  auto ip = [](const nlmsghdr* m) {
    auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(m));
    return ndm->ndm_family == AF_INET || ndm->ndm_family == AF_INET6;
  };
  return DumpObjects<ndmsg>(info.Env(), RTM_GETNEIGH, RTM_NEWNEIGH, ArgFamily(info, 0), NeighborObject, ip, "neighbour dump");
}

void* ArgAddress(const Napi::CallbackInfo& info, size_t i, uint8_t family) {
  size_t len = 0;
  void* p = ArgBytes(info, i, "address", &len);
  size_t want = family == AF_INET ? 4 : 16;
  if (len < want) throw Napi::RangeError::New(info.Env(), "address is shorter than its family's address length");
  return p;
}

uint8_t ArgAddrFamily(const Napi::CallbackInfo& info, size_t i) {
  uint8_t f = ArgFamily(info, i);
  if (f == AF_UNSPEC) throw Napi::RangeError::New(info.Env(), "an address family (AF_INET or AF_INET6) is needed");
  return f;
}

struct RouteAnswer {
  Napi::Env env;
  Napi::Value out;
};

int RouteCb(const nlmsghdr* nlh, void* data) {
  auto* a = static_cast<RouteAnswer*>(data);
  if (nlh->nlmsg_type != RTM_NEWROUTE) return MNL_CB_OK;
  auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  Attrs<RTA_MAX> tb;
  tb.Parse(nlh, sizeof(*rtm));
  Napi::Object o = Napi::Object::New(a->env);
  o.Set("type", (double)rtm->rtm_type);
  o.Set("table", (double)AttrU32(tb[RTA_TABLE], rtm->rtm_table));
  o.Set("oif", (double)AttrU32(tb[RTA_OIF]));
  o.Set("gateway", AttrBuffer(a->env, tb[RTA_GATEWAY]));
  o.Set("prefsrc", AttrBuffer(a->env, tb[RTA_PREFSRC]));
  a->out = o;
  return MNL_CB_OK;
}

// netlinkRouteGet(family, dst) -> { type, table, oif, gateway, prefsrc }: what `ip route get`
// answers. No route: an ENETUNREACH (or EHOSTUNREACH) error.
Napi::Value RouteGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t family = ArgAddrFamily(info, 0);
  void* dst = ArgAddress(info, 1, family);
  Socket s(env);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  // The ACK after the answer tells Transact the kernel is done.
  auto [nlh, rtm] = Request<rtmsg>(buf, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK);
  rtm->rtm_family = family;
  rtm->rtm_dst_len = family == AF_INET ? 32 : 128;
  mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, dst);
  RouteAnswer a{env, env.Null()};
  s.Transact(nlh, RouteCb, &a, "route get");
  return a.out;
}

int AckCb(const nlmsghdr*, void*) { return MNL_CB_OK; }

struct XdpAnswer {
  uint8_t attachMode = 0;
  uint32_t progId = 0, drvProgId = 0, skbProgId = 0, hwProgId = 0;
};

int XdpCb(const nlmsghdr* nlh, void* data) {
  auto* a = static_cast<XdpAnswer*>(data);
  if (nlh->nlmsg_type != RTM_NEWLINK) return MNL_CB_OK;
  Attrs<IFLA_MAX> tb;
  tb.Parse(nlh, sizeof(ifinfomsg));
  const nlattr* xdp = tb[IFLA_XDP];
  if (!xdp) return MNL_CB_OK;
  const char* end = static_cast<const char*>(mnl_attr_get_payload(xdp)) + mnl_attr_get_payload_len(xdp);
  for (auto* at = static_cast<const nlattr*>(mnl_attr_get_payload(xdp)); mnl_attr_ok(at, end - reinterpret_cast<const char*>(at));
       at = mnl_attr_next(at)) {
    switch (mnl_attr_get_type(at)) {
      case IFLA_XDP_ATTACHED: a->attachMode = mnl_attr_get_u8(at); break;
      case IFLA_XDP_PROG_ID: a->progId = AttrU32(at); break;
      case IFLA_XDP_DRV_PROG_ID: a->drvProgId = AttrU32(at); break;
      case IFLA_XDP_SKB_PROG_ID: a->skbProgId = AttrU32(at); break;
      case IFLA_XDP_HW_PROG_ID: a->hwProgId = AttrU32(at); break;
      default: break;
    }
  }
  return MNL_CB_OK;
}

// netlinkXdpQuery(ifindex) -> { attachMode, progId, drvProgId, skbProgId, hwProgId }, as
// bpf_xdp_query answers, from a request for this one link. libbpf 1.1's bpf_xdp_query dumps
// every link and keeps the one asked for: a walk over N interfaces asking each cost O(N^2)
// (0.7 s with 400 links). An interface that does not exist: ENODEV.
Napi::Value XdpQueryLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = ArgU32(info, 0, "ifindex");
  Socket s(env);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  // The ACK after the answer tells Transact the kernel is done.
  auto [nlh, ifm] = Request<ifinfomsg>(buf, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifm->ifi_index = static_cast<int>(ifindex);
  XdpAnswer a;
  s.Transact(nlh, XdpCb, &a, "link get");
  Napi::Object o = Napi::Object::New(env);
  o.Set("attachMode", (double)a.attachMode);
  o.Set("progId", (double)a.progId);
  o.Set("drvProgId", (double)a.drvProgId);
  o.Set("skbProgId", (double)a.skbProgId);
  o.Set("hwProgId", (double)a.hwProgId);
  return o;
}

// The kernel's "netdev" generic netlink family (Linux 6.3, include/uapi/linux/netdev.h, newer
// than this toolchain's headers): what each driver declares it can do with XDP, asked without
// attaching anything.
constexpr char kNetdevFamily[] = "netdev";
constexpr uint8_t kNetdevCmdDevGet = 1;          // NETDEV_CMD_DEV_GET
constexpr uint16_t kNetdevAttrIfindex = 1;       // NETDEV_A_DEV_IFINDEX (u32)
constexpr uint16_t kNetdevAttrXdpFeatures = 3;   // NETDEV_A_DEV_XDP_FEATURES (u64, NETDEV_XDP_ACT_*)

// A generic netlink request in `buf`, for the caller to add attributes to.
nlmsghdr* GenlRequest(std::vector<char>& buf, uint16_t family, uint8_t cmd, uint16_t flags) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = family;
  nlh->nlmsg_flags = flags;
  auto* g = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
  g->cmd = cmd;
  g->version = 1;
  return nlh;
}

int FamilyIdCb(const nlmsghdr* nlh, void* data) {
  Attrs<CTRL_ATTR_MAX> tb;
  tb.Parse(nlh, sizeof(genlmsghdr));
  if (tb[CTRL_ATTR_FAMILY_ID] && mnl_attr_get_payload_len(tb[CTRL_ATTR_FAMILY_ID]) >= 2)
    *static_cast<int*>(data) = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
  return MNL_CB_OK;
}

struct DeviceFeatures {
  uint32_t ifindex;
  uint64_t xdp;
};

int DeviceFeaturesCb(const nlmsghdr* nlh, void* data) {
  Attrs<kNetdevAttrXdpFeatures> tb;
  tb.Parse(nlh, sizeof(genlmsghdr));
  const nlattr* f = tb[kNetdevAttrXdpFeatures];
  static_cast<std::vector<DeviceFeatures>*>(data)->push_back(
      {AttrU32(tb[kNetdevAttrIfindex]), f && mnl_attr_get_payload_len(f) >= 8 ? mnl_attr_get_u64(f) : 0});
  return MNL_CB_OK;
}

// netlinkXdpFeatures() -> [{ ifindex, xdpFeatures }] for every interface of this namespace
// (NETDEV_XDP_ACT_* bits: BASIC 1, REDIRECT 2, NDO_XMIT 4, XSK_ZEROCOPY 8, HW_OFFLOAD 16,
// RX_SG 32, NDO_XMIT_SG 64), or null when the kernel has no netdev family (before 6.3).
Napi::Value XdpFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int family = -1;
  {
    Socket s(env, 0, NETLINK_GENERIC);
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = GenlRequest(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_REQUEST | NLM_F_ACK);
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, kNetdevFamily);
    try {
      s.Transact(nlh, FamilyIdCb, &family, "generic netlink family lookup");
    } catch (const Napi::Error& e) {
      if (IsErrno(e, "ENOENT")) return env.Null();
      throw;
    }
  }
  if (family < 0) return env.Null();
  std::vector<DeviceFeatures> devices = RereadIfInterrupted([&] {
    std::vector<DeviceFeatures> read;
    Socket s(env, 0, NETLINK_GENERIC);
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = GenlRequest(buf, static_cast<uint16_t>(family), kNetdevCmdDevGet, NLM_F_REQUEST | NLM_F_DUMP);
    s.Transact(nlh, DeviceFeaturesCb, &read, "netdev device dump");
    return read;
  });
  Napi::Array out = Napi::Array::New(env, devices.size());
  for (size_t i = 0; i < devices.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("ifindex", (double)devices[i].ifindex);
    // Seven bits are defined: a double holds the whole word exactly as far as 2^53.
    o.Set("xdpFeatures", (double)devices[i].xdp);
    out.Set(i, o);
  }
  return out;
}

// netlinkNeighManage(family, ifindex, dst): asks the kernel to keep this neighbour resolved
// (NTF_EXT_MANAGED, kernel 5.16): it probes the address itself, with no traffic to trigger it,
// and keeps the entry reachable. An existing entry keeps its address and state.
Napi::Value NeighManage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t family = ArgAddrFamily(info, 0);
  uint32_t ifindex = ArgU32(info, 1, "ifindex");
  void* dst = ArgAddress(info, 2, family);
  Socket s(env);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  std::memset(ndm, 0, sizeof(*ndm));
  ndm->ndm_family = family;
  ndm->ndm_ifindex = static_cast<int>(ifindex);
  ndm->ndm_state = NUD_NONE;
  mnl_attr_put(nlh, NDA_DST, family == AF_INET ? 4 : 16, dst);
  mnl_attr_put_u32(nlh, NDA_FLAGS_EXT, NTF_EXT_MANAGED);
  s.Transact(nlh, AckCb, nullptr, "neighbour update");
  return env.Undefined();
}

// netlinkNeighDelete(family, ifindex, dst) -> false when there was no such entry.
Napi::Value NeighDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t family = ArgAddrFamily(info, 0);
  uint32_t ifindex = ArgU32(info, 1, "ifindex");
  void* dst = ArgAddress(info, 2, family);
  Socket s(env);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_DELNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  std::memset(ndm, 0, sizeof(*ndm));
  ndm->ndm_family = family;
  ndm->ndm_ifindex = static_cast<int>(ifindex);
  mnl_attr_put(nlh, NDA_DST, family == AF_INET ? 4 : 16, dst);
  try {
    s.Transact(nlh, AckCb, nullptr, "neighbour delete");
  } catch (const Napi::Error& e) {
    if (e.Value().Get("code").ToString().Utf8Value() == "ENOENT") return Napi::Boolean::New(env, false);
    throw;
  }
  return Napi::Boolean::New(env, true);
}


// Routes in bulk, packed for JS (a full BGP table is a million routes: one object each would
// cost more than the dump). Per route, 7 u32 words in `head`: [family | dst_len << 8 |
// protocol << 16 | type << 24, table, priority, tos | flags << 8, first nexthop, nexthop count,
// nexthop object id], 16 bytes of destination in `dst`; per nexthop 3 words in `nh`: [ifindex,
// weight, gateway family (0, 4 or 6) | rtnh_flags << 8] and 16 bytes of gateway in `gw`.
constexpr uint32_t kRouteWords = 7;
constexpr uint32_t kNexthopWords = 3;
constexpr uint32_t kRouteDeleted = 1u << 8;  // in word 3: an RTM_DELROUTE event

struct RouteCollector {
  std::vector<uint32_t> head;
  std::vector<uint8_t> dst;
  std::vector<uint32_t> nh;
  std::vector<uint8_t> gw;
  std::vector<uint32_t> tables;  // keep only these tables (empty: all but local)

  bool Wanted(uint32_t table) const {
    if (tables.empty()) return table != RT_TABLE_LOCAL;
    for (uint32_t t : tables)
      if (t == table) return true;
    return false;
  }

  void PushGateway(const void* addr, size_t len) {
    size_t at = gw.size();
    gw.resize(at + 16, 0);
    if (addr) std::memcpy(gw.data() + at, addr, len > 16 ? 16 : len);
  }

  // One nexthop: its gateway from RTA_GATEWAY (the route's family) or RTA_VIA (any family).
  void PushNexthop(uint32_t ifindex, uint32_t weight, uint8_t flags, uint8_t family, const nlattr* gateway, const nlattr* via) {
    uint32_t gwFamily = 0;
    if (gateway) {
      gwFamily = family == AF_INET ? 4 : 6;
      PushGateway(mnl_attr_get_payload(gateway), mnl_attr_get_payload_len(gateway));
    } else if (via && mnl_attr_get_payload_len(via) >= sizeof(rtvia)) {
      auto* v = static_cast<const rtvia*>(mnl_attr_get_payload(via));
      gwFamily = v->rtvia_family == AF_INET ? 4 : v->rtvia_family == AF_INET6 ? 6 : 0;
      PushGateway(v->rtvia_addr, mnl_attr_get_payload_len(via) - sizeof(rtvia));
    } else {
      PushGateway(nullptr, 0);
    }
    nh.insert(nh.end(), {ifindex, weight, gwFamily | (uint32_t(flags) << 8)});
  }

  // An RTM_NEWROUTE or RTM_DELROUTE message; returns whether it was kept.
  bool Add(const nlmsghdr* nlh) {
    auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
    if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) return false;
    if (rtm->rtm_flags & RTM_F_CLONED) return false;  // a cache entry, not a route
    Attrs<RTA_MAX> tb;
    tb.Parse(nlh, sizeof(*rtm));
    uint32_t table = AttrU32(tb[RTA_TABLE], rtm->rtm_table);
    if (!Wanted(table)) return false;
    uint32_t first = static_cast<uint32_t>(nh.size() / kNexthopWords);
    if (tb[RTA_MULTIPATH]) {
      // A sequence of struct rtnexthop, each followed by its own attributes.
      const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(tb[RTA_MULTIPATH]));
      size_t left = mnl_attr_get_payload_len(tb[RTA_MULTIPATH]);
      while (left >= sizeof(rtnexthop)) {
        auto* rtnh = reinterpret_cast<const rtnexthop*>(p);
        if (rtnh->rtnh_len < sizeof(rtnexthop) || rtnh->rtnh_len > left) break;
        const nlattr* gateway = nullptr;
        const nlattr* via = nullptr;
        const auto* a = reinterpret_cast<const nlattr*>(p + RTNH_ALIGN(sizeof(rtnexthop)));
        int alen = static_cast<int>(rtnh->rtnh_len) - static_cast<int>(RTNH_ALIGN(sizeof(rtnexthop)));
        for (; alen > 0 && mnl_attr_ok(a, alen); alen -= static_cast<int>(MNL_ALIGN(a->nla_len)), a = mnl_attr_next(a)) {
          if (mnl_attr_get_type(a) == RTA_GATEWAY) gateway = a;
          if (mnl_attr_get_type(a) == RTA_VIA) via = a;
        }
        PushNexthop(static_cast<uint32_t>(rtnh->rtnh_ifindex), rtnh->rtnh_hops + 1u, rtnh->rtnh_flags, rtm->rtm_family, gateway, via);
        size_t step = RTNH_ALIGN(rtnh->rtnh_len);
        if (step >= left) break;
        p += step;
        left -= step;
      }
    } else if (tb[RTA_OIF] || tb[RTA_GATEWAY] || tb[RTA_VIA]) {
      PushNexthop(AttrU32(tb[RTA_OIF]), 1, static_cast<uint8_t>(rtm->rtm_flags & 0xff), rtm->rtm_family, tb[RTA_GATEWAY], tb[RTA_VIA]);
    }
    uint32_t count = static_cast<uint32_t>(nh.size() / kNexthopWords) - first;
    bool del = nlh->nlmsg_type == RTM_DELROUTE;
    head.insert(head.end(), {uint32_t(rtm->rtm_family == AF_INET ? 4 : 6) | uint32_t(rtm->rtm_dst_len) << 8 |
                                 uint32_t(rtm->rtm_protocol) << 16 | uint32_t(rtm->rtm_type) << 24,
                             table, AttrU32(tb[RTA_PRIORITY]), uint32_t(rtm->rtm_tos) | (del ? kRouteDeleted : 0), first, count,
                             AttrU32(tb[RTA_NH_ID])});
    size_t at = dst.size();
    dst.resize(at + 16, 0);
    if (tb[RTA_DST]) {
      size_t len = mnl_attr_get_payload_len(tb[RTA_DST]);
      std::memcpy(dst.data() + at, mnl_attr_get_payload(tb[RTA_DST]), len > 16 ? 16 : len);
    }
    return true;
  }

  template <typename T>
  static Napi::Value Typed(Napi::Env env, const std::vector<T>& v) {
    auto ab = Napi::ArrayBuffer::New(env, v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(ab.Data(), v.data(), v.size() * sizeof(T));
    if constexpr (sizeof(T) == 4) return Napi::Uint32Array::New(env, v.size(), ab, 0);
    else return Napi::Uint8Array::New(env, v.size(), ab, 0);
  }

  // Appends another collector's routes (their nexthop indexes moved past ours).
  void Append(const RouteCollector& o) {
    uint32_t base = static_cast<uint32_t>(nh.size() / kNexthopWords);
    size_t at = head.size();
    head.insert(head.end(), o.head.begin(), o.head.end());
    for (size_t h = at; h < head.size(); h += kRouteWords) head[h + 4] += base;
    dst.insert(dst.end(), o.dst.begin(), o.dst.end());
    nh.insert(nh.end(), o.nh.begin(), o.nh.end());
    gw.insert(gw.end(), o.gw.begin(), o.gw.end());
  }

  size_t Count() const { return head.size() / kRouteWords; }

  Napi::Object ToJs(Napi::Env env) const {
    Napi::Object o = Napi::Object::New(env);
    o.Set("count", (double)(head.size() / kRouteWords));
    o.Set("head", Typed(env, head));
    o.Set("dst", Typed(env, dst));
    o.Set("nh", Typed(env, nh));
    o.Set("gw", Typed(env, gw));
    return o;
  }
};

int RouteDumpCb(const nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type == RTM_NEWROUTE) static_cast<RouteCollector*>(data)->Add(nlh);
  return MNL_CB_OK;
}

// One nexthop object (RTM_NEWNEXTHOP): { id, family, oif, gateway, blackhole, group: [id,
// weight, ...] }.
Napi::Object NexthopObject(Napi::Env env, const nlmsghdr* nlh) {
  auto* nhm = static_cast<const nhmsg*>(mnl_nlmsg_get_payload(nlh));
  Attrs<NHA_MAX> tb;
  tb.Parse(nlh, sizeof(*nhm));
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", (double)AttrU32(tb[NHA_ID]));
  o.Set("family", (double)nhm->nh_family);
  o.Set("flags", (double)nhm->nh_flags);
  o.Set("oif", (double)AttrU32(tb[NHA_OIF]));
  o.Set("gateway", AttrBuffer(env, tb[NHA_GATEWAY]));
  o.Set("blackhole", Napi::Boolean::New(env, tb[NHA_BLACKHOLE] != nullptr));
  Napi::Array group = Napi::Array::New(env);
  if (tb[NHA_GROUP]) {
    auto* g = static_cast<const nexthop_grp*>(mnl_attr_get_payload(tb[NHA_GROUP]));
    size_t n = mnl_attr_get_payload_len(tb[NHA_GROUP]) / sizeof(nexthop_grp);
    for (size_t i = 0; i < n; i++) {
      group.Set(group.Length(), (double)g[i].id);
      group.Set(group.Length(), (double)(g[i].weight + 1u));  // the kernel stores weight - 1
    }
  }
  o.Set("group", group);
  return o;
}

// netlinkNexthops() -> [{ id, family, flags, oif, gateway, blackhole, group }]: the kernel's
// nexthop objects (FRR installs routes through them).
Napi::Value Nexthops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    return DumpObjects<nhmsg>(env, RTM_GETNEXTHOP, RTM_NEWNEXTHOP, AF_UNSPEC, NexthopObject, nullptr, "nexthop dump");
  } catch (const Napi::Error& e) {
    // A kernel without nexthop objects has none to list.
    if (e.Value().Get("code").ToString().Utf8Value() == "EOPNOTSUPP") return Napi::Array::New(env);
    throw;
  }
}

}  // namespace

// new NetlinkMonitor(groups: number[], onEvents(events[])): joins the given rtnetlink groups
// (RTNLGRP_*) and, polled by libuv, hands each readable tick's messages to one callback as an
// array of { event: 'link'|'address'|'neighbor', op: 'new'|'del', ...fields }; route changes
// come packed as one { event: 'routes', count, head, dst, nh, gw } (RouteCollector), and
// nexthop-object changes as { event: 'nexthops' }. When the kernel
// had to drop messages (the socket's buffer overran) the array holds { event: 'overrun' }: the
// caller then reads the whole state again. close() is idempotent and also runs on GC.
class NetlinkMonitor : public Napi::ObjectWrap<NetlinkMonitor> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "NetlinkMonitor",
                                   {InstanceMethod<&NetlinkMonitor::Close>("close"), InstanceAccessor<&NetlinkMonitor::GetClosed>("closed")});
    exports.Set("NetlinkMonitor", f);
  }

  NetlinkMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkMonitor>(info), env_(info.Env()) {
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env_, "new NetlinkMonitor(groups: number[], onEvents: function)");
    }
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (!nl_) ThrowErrno(env_, errno, "mnl_socket_open");
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) Fail(errno, "mnl_socket_bind");
    Napi::Array groups = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < groups.Length(); i++) {
      int g = groups.Get(i).As<Napi::Number>().Int32Value();
      if (mnl_socket_setsockopt(nl_, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) Fail(errno, "NETLINK_ADD_MEMBERSHIP");
    }
    // A bigger buffer rides out bursts (a link flap brings hundreds of events, a BGP session
    // coming up tens of thousands of routes). A socket option, at SOL_SOCKET: through
    // mnl_socket_setsockopt (SOL_NETLINK) the same number 8 is NETLINK_LISTEN_ALL_NSID, which
    // would subscribe to the events of every network namespace. FORCE lifts rmem_max for root.
    int size = 32 << 20;
    if (setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
      setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env_, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    if (int r = uv_poll_init(loop, poll_, mnl_socket_get_fd(nl_)); r < 0) {
      delete poll_;
      poll_ = nullptr;
      Fail(-r, "uv_poll_init");
    }
    uv_poll_start(poll_, UV_READABLE, &NetlinkMonitor::OnReadable);
  }
  ~NetlinkMonitor() override { Teardown(); }

 private:
  [[noreturn]] void Fail(int err, const char* what) {
    mnl_socket_close(nl_);
    nl_ = nullptr;
    ThrowErrno(env_, err, what);
  }

  static void OnReadable(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<NetlinkMonitor*>(handle->data);
    if (self && self->nl_) self->Drain();
  }

  struct Batch {
    Napi::Env env;
    Napi::Array events;
    // Route events of this tick, packed (RouteCollector), handed over as one 'routes' event.
    RouteCollector routes;
    bool nexthops = false;
  };

  static int EventCb(const nlmsghdr* nlh, void* data) {
    auto* b = static_cast<Batch*>(data);
    Napi::Object o;
    const char* event = nullptr;
    switch (nlh->nlmsg_type) {
      case RTM_NEWLINK:
      case RTM_DELLINK:
        o = LinkObject(b->env, nlh);
        event = "link";
        break;
      case RTM_NEWADDR:
      case RTM_DELADDR:
        o = AddressObject(b->env, nlh);
        event = "address";
        break;
      case RTM_NEWNEIGH:
      case RTM_DELNEIGH:
        o = NeighborObject(b->env, nlh);
        event = "neighbor";
        break;
      case RTM_NEWROUTE:
      case RTM_DELROUTE:
        b->routes.Add(nlh);
        return MNL_CB_OK;
      case RTM_NEWNEXTHOP:
      case RTM_DELNEXTHOP:
        b->nexthops = true;
        return MNL_CB_OK;
      default:
        return MNL_CB_OK;
    }
    o.Set("event", event);
    bool del = nlh->nlmsg_type == RTM_DELLINK || nlh->nlmsg_type == RTM_DELADDR || nlh->nlmsg_type == RTM_DELNEIGH;
    o.Set("op", del ? "del" : "new");
    b->events.Set(b->events.Length(), o);
    return MNL_CB_OK;
  }

  void Drain() {
    Napi::HandleScope scope(env_);
    Batch b{env_, Napi::Array::New(env_)};
    std::vector<char> buf(kDumpBuffer);
    for (;;) {
      ssize_t n = recv(mnl_socket_get_fd(nl_), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) {
          Napi::Object o = Napi::Object::New(env_);
          o.Set("event", "overrun");
          b.events.Set(b.events.Length(), o);
          continue;
        }
        break;  // EAGAIN: drained
      }
      // Events carry sequence 0 and port 0: check neither.
      mnl_cb_run(buf.data(), n, 0, 0, EventCb, &b);
    }
    if (!b.routes.head.empty()) {
      Napi::Object o = b.routes.ToJs(env_);
      o.Set("event", "routes");
      b.events.Set(b.events.Length(), o);
    }
    if (b.nexthops) {
      Napi::Object o = Napi::Object::New(env_);
      o.Set("event", "nexthops");
      b.events.Set(b.events.Length(), o);
    }
    if (b.events.Length() == 0) return;
    callback_.MakeCallback(Value(), {b.events});
  }

  void Teardown() {
    if (poll_) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (nl_) {
      mnl_socket_close(nl_);
      nl_ = nullptr;
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Teardown();
    callback_.Reset();
    return info.Env().Undefined();
  }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), nl_ == nullptr); }

  Napi::Env env_;
  Napi::FunctionReference callback_;
  mnl_socket* nl_ = nullptr;
  uv_poll_t* poll_ = nullptr;
};

// new RouteDumpReader(family, tables?: number[]): a route dump read a part at a time, so that
// a full table (a million routes) never holds the event loop for the whole dump: read(max)
// -> { routes (packed, as netlinkRouteDump), done }. A thread of its own reads the socket and
// packs the routes ahead (a few parts at most), so the kernel's formatting and our parsing
// overlap with what JavaScript does with the parts already read. close() is idempotent and
// also runs on GC.
class RouteDumpReader : public Napi::ObjectWrap<RouteDumpReader> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "RouteDumpReader",
                                   {InstanceMethod<&RouteDumpReader::Read>("read"), InstanceMethod<&RouteDumpReader::Close>("close")});
    exports.Set("RouteDumpReader", f);
  }

  RouteDumpReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RouteDumpReader>(info) {
    uint8_t family = ArgFamily(info, 0);
    if (info.Length() > 1 && info[1].IsArray()) {
      Napi::Array t = info[1].As<Napi::Array>();
      for (uint32_t i = 0; i < t.Length(); i++) tables_.push_back(t.Get(i).As<Napi::Number>().Uint32Value());
    }
    socket_ = std::make_unique<Socket>(info.Env());
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    socket_->Send(DumpRequest<rtmsg>(buf, RTM_GETROUTE, family), "route dump");
    thread_ = std::thread([this] { Prefetch(); });
  }

  ~RouteDumpReader() { Teardown(); }

 private:
  static constexpr size_t kPartRoutes = 16384;  // what the thread packs before handing over
  static constexpr size_t kAheadParts = 8;      // and how far it reads ahead of JavaScript

  // The reading thread: parts of the dump into queue_, until the kernel is done, an error, or close().
  void Prefetch() {
    std::vector<char> buf(kDumpBuffer);
    for (;;) {
      RouteCollector c;
      c.tables = tables_;
      bool done = false;
      int err = 0;
      const char* op = nullptr;
      while (!done && c.Count() < kPartRoutes && !closing_) {
        ssize_t n = mnl_socket_recvfrom(socket_->get(), buf.data(), buf.size());
        if (n < 0) {
          err = errno, op = "mnl_socket_recvfrom";
          break;
        }
        int r = mnl_cb_run(buf.data(), n, socket_->seq(), socket_->portid(), RouteDumpCb, &c);
        if (r < 0) {
          err = errno, op = "netlink";
          break;
        }
        done = r == MNL_CB_STOP;
      }
      std::unique_lock<std::mutex> lock(mu_);
      queue_.push_back(std::move(c));
      if (err || done || closing_) {
        err_ = err, errOp_ = op, finished_ = true;
        ready_.notify_all();
        return;
      }
      ready_.notify_all();
      room_.wait(lock, [this] { return queue_.size() < kAheadParts || closing_; });
    }
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t max = ArgU32(info, 0, "max");
    RouteCollector c;
    bool done = false;
    int err = 0;
    const char* op = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        ready_.wait(lock, [this] { return !queue_.empty() || finished_ || !thread_.joinable(); });
        while (!queue_.empty() && c.Count() < max) {
          if (c.head.empty()) c = std::move(queue_.front());
          else c.Append(queue_.front());
          queue_.pop_front();
        }
        room_.notify_all();
        done = queue_.empty() && (finished_ || !thread_.joinable());
        if (done || c.Count() >= max) break;
      }
      err = err_, op = errOp_;
    }
    if (done) Teardown();
    if (err) ThrowErrno(env, err, op, "route dump");
    Napi::Object o = Napi::Object::New(env);
    o.Set("routes", c.ToJs(env));
    o.Set("done", Napi::Boolean::New(env, done));
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Teardown();
    return info.Env().Undefined();
  }

  // Stops the thread (it ends after the datagram it is reading: the kernel keeps a dump coming)
  // and closes the socket.
  void Teardown() {
    if (thread_.joinable()) {
      {
        std::lock_guard<std::mutex> g(mu_);
        closing_ = true;
      }
      room_.notify_all();
      thread_.join();
    }
    socket_.reset();
  }

  std::unique_ptr<Socket> socket_;
  std::vector<uint32_t> tables_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable ready_, room_;
  std::deque<RouteCollector> queue_;
  bool finished_ = false;
  std::atomic<bool> closing_{false};  // also read by the thread between datagrams, unlocked
  int err_ = 0;
  const char* errOp_ = nullptr;
};

void InitNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("netlinkLinks", Napi::Function::New(env, Links));
  exports.Set("netlinkAddresses", Napi::Function::New(env, Addresses));
  exports.Set("netlinkNeighbors", Napi::Function::New(env, Neighbors));
  exports.Set("netlinkRouteGet", Napi::Function::New(env, RouteGet));
  exports.Set("netlinkXdpQuery", Napi::Function::New(env, XdpQueryLink));
  exports.Set("netlinkXdpFeatures", Napi::Function::New(env, XdpFeatures));
  exports.Set("netlinkNeighManage", Napi::Function::New(env, NeighManage));
  exports.Set("netlinkNeighDelete", Napi::Function::New(env, NeighDelete));
  exports.Set("netlinkNexthops", Napi::Function::New(env, Nexthops));
  NetlinkMonitor::Init(env, exports);
  RouteDumpReader::Init(env, exports);
}

}  // namespace pw
