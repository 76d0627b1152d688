// Device features through the ethtool ioctl (SIOCETHTOOL), by their kernel names
// ("rx-vlan-hw-parse", "tx-vlan-hw-insert", ...): what `ethtool -k` shows and `ethtool -K`
// changes. The pipeline needs VLAN tags in the frame, where XDP can read them, not stripped
// into the driver's metadata. A request goes to the kernel and is answered at once; the
// socket belongs to the calling thread's network namespace.
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace pw {

namespace {

// An ioctl socket for one interface, closed on scope exit.
class EthtoolSocket {
 public:
  EthtoolSocket(Napi::Env env, const std::string& ifname) : env_(env), ifname_(ifname) {
    if (ifname.empty() || ifname.size() >= IFNAMSIZ) throw Napi::TypeError::New(env, "invalid interface name '" + ifname + "'");
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) ThrowErrno(env, errno, "socket");
  }
  ~EthtoolSocket() {
    if (fd_ >= 0) close(fd_);
  }
  EthtoolSocket(const EthtoolSocket&) = delete;
  EthtoolSocket& operator=(const EthtoolSocket&) = delete;

  // Returns the ioctl's result (>= 0); an error becomes a JS exception naming `what`.
  int Call(void* data, const char* what) {
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname_.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = static_cast<char*>(data);
    int r = ioctl(fd_, SIOCETHTOOL, &ifr);
    if (r < 0) ThrowErrno(env_, errno, "ioctl(SIOCETHTOOL)", std::string(what) + " of '" + ifname_ + "'");
    return r;
  }

  // The names of the device's feature bits, in bit order.
  std::vector<std::string> FeatureNames() {
    // ethtool_sset_info ends in a flexible array: one u32 per set asked for.
    alignas(ethtool_sset_info) char raw[sizeof(ethtool_sset_info) + sizeof(uint32_t)] = {};
    auto* sset = reinterpret_cast<ethtool_sset_info*>(raw);
    sset->cmd = ETHTOOL_GSSET_INFO;
    sset->sset_mask = 1ULL << ETH_SS_FEATURES;
    Call(sset, "ETHTOOL_GSSET_INFO");
    uint32_t n = sset->sset_mask ? sset->data[0] : 0;
    std::vector<char> buf(sizeof(ethtool_gstrings) + size_t(n) * ETH_GSTRING_LEN);
    auto* gs = reinterpret_cast<ethtool_gstrings*>(buf.data());
    gs->cmd = ETHTOOL_GSTRINGS;
    gs->string_set = ETH_SS_FEATURES;
    gs->len = n;
    Call(gs, "ETHTOOL_GSTRINGS");
    std::vector<std::string> names;
    for (uint32_t i = 0; i < gs->len && i < n; i++) {
      const char* s = reinterpret_cast<const char*>(gs->data) + size_t(i) * ETH_GSTRING_LEN;
      names.emplace_back(s, strnlen(s, ETH_GSTRING_LEN));
    }
    return names;
  }

 private:
  Napi::Env env_;
  std::string ifname_;
  int fd_ = -1;
};

uint32_t Blocks(size_t bits) { return static_cast<uint32_t>((bits + 31) / 32); }

}  // namespace

// interfaceFeatures(ifname) -> { [name]: { active, changeable } } for every feature the
// device knows.
static Napi::Value InterfaceFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  EthtoolSocket s(env, ifname);
  std::vector<std::string> names = s.FeatureNames();
  uint32_t blocks = Blocks(names.size());
  std::vector<char> buf(sizeof(ethtool_gfeatures) + blocks * sizeof(ethtool_get_features_block));
  auto* gf = reinterpret_cast<ethtool_gfeatures*>(buf.data());
  gf->cmd = ETHTOOL_GFEATURES;
  gf->size = blocks;
  s.Call(gf, "ETHTOOL_GFEATURES");
  Napi::Object out = Napi::Object::New(env);
  for (size_t i = 0; i < names.size(); i++) {
    const ethtool_get_features_block& b = gf->features[i / 32];
    uint32_t bit = 1u << (i % 32);
    if (names[i].empty()) continue;
    Napi::Object f = Napi::Object::New(env);
    f.Set("active", Napi::Boolean::New(env, b.active & bit));
    f.Set("changeable", Napi::Boolean::New(env, (b.available & bit) && !(b.never_changed & bit)));
    out.Set(names[i], f);
  }
  return out;
}

// setInterfaceFeatures(ifname, { [name]: boolean }): requests the features on or off. Names
// the device does not know are refused before anything changes. Returns nothing; the caller
// reads the features again to see what the driver did (a request can be partly refused).
static Napi::Value SetInterfaceFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  if (info.Length() < 2 || !info[1].IsObject())
    throw Napi::TypeError::New(env, "features: expected an object of feature names to booleans");
  Napi::Object wanted = info[1].As<Napi::Object>();
  EthtoolSocket s(env, ifname);
  std::vector<std::string> names = s.FeatureNames();
  uint32_t blocks = Blocks(names.size());
  std::vector<char> buf(sizeof(ethtool_sfeatures) + blocks * sizeof(ethtool_set_features_block));
  auto* sf = reinterpret_cast<ethtool_sfeatures*>(buf.data());
  sf->cmd = ETHTOOL_SFEATURES;
  sf->size = blocks;
  Napi::Array keys = wanted.GetPropertyNames();
  for (uint32_t k = 0; k < keys.Length(); k++) {
    std::string name = keys.Get(k).As<Napi::String>().Utf8Value();
    size_t i = 0;
    while (i < names.size() && names[i] != name) i++;
    if (i == names.size()) {
      Napi::Error e = Napi::Error::New(env, "'" + ifname + "' has no feature named '" + name + "'");
      e.Set("code", Napi::String::New(env, "ENOENT"));
      throw e;
    }
    uint32_t bit = 1u << (i % 32);
    sf->features[i / 32].valid |= bit;
    if (wanted.Get(name).ToBoolean()) sf->features[i / 32].requested |= bit;
  }
  s.Call(sf, "ETHTOOL_SFEATURES");
  return env.Undefined();
}

void InitEthtool(Napi::Env env, Napi::Object exports) {
  exports.Set("interfaceFeatures", Napi::Function::New(env, InterfaceFeatures));
  exports.Set("setInterfaceFeatures", Napi::Function::New(env, SetInterfaceFeatures));
}

}  // namespace pw
