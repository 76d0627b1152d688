// Path probes: ICMP echo, UDP or TCP SYN probes sent out of one interface to one gateway's MAC,
// so each probe takes the path it measures whatever the main table would choose, and timed
// close to the wire: the send time is read just before the frame is handed to the kernel,
// the reply's time is the kernel's receive timestamp (SO_TIMESTAMPNS), so neither the event
// loop nor this thread's scheduling adds to an RTT.
//
// new PathProber(): one thread ("pw-prober"), one AF_PACKET socket that sends, one that
// receives what a libpcap-compiled filter lets through (replies to our probes only). The
// schedule lives here too — a probe every interval, jittered, and the next one at once when
// one times out — so a busy event loop delays neither. The thread wakes in passes (at most
// every quarter interval, within [5, 25] ms; replies wait for the next pass) and sends and
// reads in batches (sendmmsg, recvmmsg): the kernel's stamps keep the RTTs exact, and 64
// paths at 100 ms cost 40 wake-ups a second. JavaScript sets targets and drains results.
//
//   new PathProber(onUrgent?)   onUrgent(): a loss, a late reply or a jumped RTT is waiting
//   set(id, { ifindex, family, srcMac, dstMac, src, dst, kind: 0 icmp|1 udp|2 tcp, port,
//             intervalMs, timeoutMs, jitter })       add or change a target (ids are the caller's)
//   remove(id)
//   drain() -> Float64Array [id, seq, rttMs (NaN: lost), atMs (CLOCK_MONOTONIC), late (1: the reply
//             to a probe reported lost before)] * n
//   stats() -> { sent, replies, lost, late, sendErrors, urgent }
//   close()
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "common.h"

namespace pw {
namespace {

enum ProbeKind : uint8_t { kIcmp = 0, kUdp = 1, kTcp = 2 };

struct Target {
  uint32_t ifindex = 0;
  uint8_t family = 4;
  uint8_t srcMac[6] = {}, dstMac[6] = {};
  uint8_t src[16] = {}, dst[16] = {};
  ProbeKind kind = kIcmp;
  uint16_t port = 0;
  double intervalMs = 100, timeoutMs = 100, jitter = 0.1;
  uint64_t nextSendNs = 0;  // CLOCK_MONOTONIC
  bool outstanding = false;  // a probe in flight: the next one waits for it or its timeout
  // A smoothed RTT (gain 1/8, as TCP's) to tell an RTT that moved away from it: worth waking
  // JavaScript for, sample after sample until the path has settled at its new level.
  double refRttMs = NAN;
};

struct InFlight {
  bool active = false;
  bool expired = false;     // timed out: a reply may still come, late
  uint32_t id = 0;
  uint64_t sentRealNs = 0;  // CLOCK_REALTIME, as the kernel's receive timestamps
  uint64_t deadlineNs = 0;  // CLOCK_MONOTONIC
};

uint64_t Clock(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

uint32_t Sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t(p[i]) << 8) | p[i + 1];
  if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  return sum;
}
uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(uint16_t(~sum));
}

constexpr uint32_t kMagic = 0x50574b50;  // "PWKP": our UDP payloads and TCP sequence numbers

class PathProber : public Napi::ObjectWrap<PathProber> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "PathProber",
                                   {InstanceMethod<&PathProber::Set>("set"), InstanceMethod<&PathProber::Remove>("remove"),
                                    InstanceMethod<&PathProber::Drain>("drain"), InstanceMethod<&PathProber::Stats>("stats"),
                                    InstanceMethod<&PathProber::Close>("close")});
    exports.Set("PathProber", f);
  }

  PathProber(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PathProber>(info) {
    Napi::Env env = info.Env();
    if (info.Length() > 0 && info[0].IsFunction()) {
      // Called (with no arguments) when a result should not wait for the next drain: a loss, a
      // late reply, an RTT that jumped. Does not keep the event loop alive.
      urgentFn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "pw-prober-urgent", 0, 1);
      urgentFn_.Unref(env);
      hasUrgentFn_ = true;
    }
    std::random_device rd;
    rng_.seed(rd());
    icmpId_ = uint16_t(rng_());
    // Ports reserved with real sockets: a UDP reply then finds a socket (no ICMP unreachable
    // back), and no local connection can take the TCP source port.
    udpFd_ = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    tcpFd_ = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (udpFd_ < 0 || tcpFd_ < 0) ThrowErrno(env, errno, "socket", "probe port");
    int off = 0;
    setsockopt(udpFd_, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    setsockopt(tcpFd_, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    udpPort_ = BindAny(env, udpFd_);
    tcpPort_ = BindAny(env, tcpFd_);

    txFd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: sends only
    rxFd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (txFd_ < 0 || rxFd_ < 0 || wakeFd_ < 0) ThrowErrno(env, errno, "socket", "AF_PACKET probe sockets");
    int one = 1;
    setsockopt(rxFd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    if (setsockopt(rxFd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) ThrowErrno(env, errno, "setsockopt", "SO_TIMESTAMPNS");
    // Probes skip the egress qdisc, as the frames Pathwise forwards do (XDP redirect has none):
    // they measure the path that traffic takes, and cost less to send.
    setsockopt(txFd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
    AttachFilter(env);
    thread_ = std::thread([this] { Run(); });
  }

  ~PathProber() { Stop(); }

 private:
  static uint16_t BindAny(Napi::Env env, int fd) {
    sockaddr_in6 a = {};
    a.sin6_family = AF_INET6;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) ThrowErrno(env, errno, "bind", "probe port");
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin6_port);
  }

  // Only replies to our probes reach the socket: the kernel filters the rest out unseen.
  void AttachFilter(Napi::Env env) {
    char expr[512];
    snprintf(expr, sizeof(expr),
             "(icmp and icmp[0] == 0 and icmp[4:2] == %u) or (icmp6 and ip6[40] == 129 and ip6[44:2] == %u) or "
             "(tcp and dst port %u) or (udp and dst port %u)",
             icmpId_, icmpId_, tcpPort_, udpPort_);
    pcap_t* p = pcap_open_dead(DLT_EN10MB, 256);
    bpf_program prog;
    if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      std::string err = pcap_geterr(p);
      pcap_close(p);
      throw Napi::Error::New(env, "probe filter: " + err);
    }
    sock_fprog fprog = {uint16_t(prog.bf_len), reinterpret_cast<sock_filter*>(prog.bf_insns)};
    int rc = setsockopt(rxFd_, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog));
    int err = errno;
    pcap_freecode(&prog);
    pcap_close(p);
    if (rc < 0) ThrowErrno(env, err, "setsockopt", "SO_ATTACH_FILTER");
    // Frames that arrived before the filter was attached: drop them.
    char sink[2048];
    while (recv(rxFd_, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
  }

  static void Mac(Napi::Object o, const char* key, uint8_t* out) {
    size_t len;
    void* p = BytesOf(o.Env(), o.Get(key), key, &len);
    if (len != 6) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be 6 bytes");
    memcpy(out, p, 6);
  }
  static void Addr(Napi::Object o, const char* key, uint8_t* out) {
    size_t len;
    void* p = BytesOf(o.Env(), o.Get(key), key, &len);
    if (len != 4 && len != 16) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be 4 or 16 bytes");
    memset(out, 0, 16);
    memcpy(out, p, len);
  }

  Napi::Value Set(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = ArgU32(info, 0, "id");
    if (!info[1].IsObject()) throw Napi::TypeError::New(env, "spec must be an object");
    Napi::Object o = info[1].As<Napi::Object>();
    Target t;
    t.ifindex = o.Get("ifindex").As<Napi::Number>().Uint32Value();
    t.family = uint8_t(o.Get("family").As<Napi::Number>().Uint32Value());
    if (t.family != 4 && t.family != 6) throw Napi::TypeError::New(env, "family must be 4 or 6");
    Mac(o, "srcMac", t.srcMac);
    Mac(o, "dstMac", t.dstMac);
    Addr(o, "src", t.src);
    Addr(o, "dst", t.dst);
    uint32_t kind = o.Get("kind").As<Napi::Number>().Uint32Value();
    if (kind > kTcp) throw Napi::TypeError::New(env, "kind must be 0 (icmp), 1 (udp) or 2 (tcp)");
    t.kind = ProbeKind(kind);
    t.port = uint16_t(o.Get("port").As<Napi::Number>().Uint32Value());
    t.intervalMs = o.Get("intervalMs").As<Napi::Number>().DoubleValue();
    t.timeoutMs = o.Get("timeoutMs").As<Napi::Number>().DoubleValue();
    t.jitter = o.Get("jitter").As<Napi::Number>().DoubleValue();
    if (!(t.intervalMs >= 1) || !(t.timeoutMs >= 1) || !(t.jitter >= 0 && t.jitter < 1))
      throw Napi::RangeError::New(env, "intervalMs and timeoutMs must be >= 1, jitter in [0, 1)");
    bool added;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = targets_.find(id);
      added = it == targets_.end();
      if (!added) {
        // A change keeps the schedule (a new MAC or timeout does not send an extra probe).
        t.nextSendNs = it->second.nextSendNs;
        t.outstanding = it->second.outstanding;
      } else {
        // First probes spread over one interval: 64 targets added at once do not send at once.
        std::uniform_real_distribution<double> u(0, t.intervalMs * 1e6);
        t.nextSendNs = Clock(CLOCK_MONOTONIC) + uint64_t(u(rng_));
      }
      targets_[id] = t;
    }
    // A new target may be due before the thread's next pass; a changed one (a new timeout or
    // MAC) is taken up by it.
    if (added) Wake();
    return env.Undefined();
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    uint32_t id = ArgU32(info, 0, "id");
    {
      std::lock_guard<std::mutex> g(mu_);
      targets_.erase(id);
      for (uint16_t seq : pending_)
        if (inflight_[seq].id == id) inflight_[seq].active = false;
    }
    return info.Env().Undefined();
  }

  Napi::Value Drain(const Napi::CallbackInfo& info) {
    std::vector<double> out;
    {
      std::lock_guard<std::mutex> g(mu_);
      out.swap(results_);
    }
    Napi::Float64Array a = Napi::Float64Array::New(info.Env(), out.size());
    if (!out.empty()) memcpy(a.Data(), out.data(), out.size() * sizeof(double));
    return a;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("sent", double(sent_.load()));
    o.Set("replies", double(replies_.load()));
    o.Set("lost", double(lost_.load()));
    o.Set("late", double(late_.load()));
    o.Set("sendErrors", double(sendErrors_.load()));
    o.Set("urgent", double(urgentCalls_.load()));
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  void Stop() {
    if (thread_.joinable()) {
      running_ = false;
      Wake();
      thread_.join();
    }
    if (hasUrgentFn_) {
      urgentFn_.Release();
      hasUrgentFn_ = false;
    }
    for (int* fd : {&txFd_, &rxFd_, &wakeFd_, &udpFd_, &tcpFd_})
      if (*fd >= 0) close(*fd), *fd = -1;
  }

  void Wake() {
    uint64_t one = 1;
    if (wakeFd_ >= 0) (void)!write(wakeFd_, &one, sizeof(one));
  }

  // ---- the probe thread ----

  // One wake-up per pass, and at most one pass every PassPeriodNs: each pass reads the
  // replies waiting, expires the probes past their deadline and sends every probe due. A
  // reply does not wake the thread: the kernel stamped it when it arrived, so reading it up
  // to a pass later changes no RTT, and a context switch is what a probe costs most on a VM
  // (more under the slow-return mitigation). Probes leave up to a pass after their time,
  // within their own ±10 % jitter at the default 100 ms; a loss is seen up to a pass late.
  static constexpr uint64_t kMinPassNs = 5000000, kMaxPassNs = 25000000;

  // A quarter of the shortest interval, within [5 ms, 25 ms]: 64 paths at 100 ms take 40
  // passes a second.
  uint64_t PassPeriodNs() const {
    double shortest = 1000;
    for (auto& [id, t] : targets_) shortest = std::min(shortest, t.intervalMs);
    return std::clamp(uint64_t(shortest * 1e6 / 4), kMinPassNs, kMaxPassNs);
  }

  void Run() {
    pthread_setname_np(pthread_self(), "pw-prober");  // for top -H and the bench's accounting
    while (running_) {
      uint64_t now = Clock(CLOCK_MONOTONIC);
      Receive();
      uint64_t next = now + 1000000000ull, period;
      batch_.clear();
      {
        std::lock_guard<std::mutex> g(mu_);
        Expire(now);
        for (auto& [id, t] : targets_) {
          if (!t.outstanding && t.nextSendNs <= now) Queue(id, t, now);
          // Also for a probe in flight: its reply, read then, frees the target to send.
          next = std::min(next, t.nextSendNs);
        }
        SendBatch(now);
        for (uint16_t seq : pending_)
          if (inflight_[seq].active) next = std::min(next, inflight_[seq].deadlineNs);
        if (urgent_ && hasUrgentFn_ && urgentFn_.NonBlockingCall() == napi_ok) urgentCalls_++;
        urgent_ = false;
        period = PassPeriodNs();
      }
      uint64_t wakeAt = std::max(next, now + period);
      now = Clock(CLOCK_MONOTONIC);
      uint64_t wait = wakeAt > now ? wakeAt - now : 0;
      timespec ts = {time_t(wait / 1000000000ull), long(wait % 1000000000ull)};
      pollfd pfd = {wakeFd_, POLLIN, 0};
      if (ppoll(&pfd, 1, &ts, nullptr) < 0 && errno != EINTR) break;
      if (pfd.revents & POLLIN) {
        uint64_t v;
        (void)!read(wakeFd_, &v, sizeof(v));
      }
    }
  }

  // Probes past their deadline are lost; the target's next probe goes out at once (a path
  // that lost one is asked again without waiting out the interval).
  void Expire(uint64_t now) {
    size_t keep = 0;
    for (uint16_t seq : pending_) {
      InFlight& f = inflight_[seq];
      if (!f.active) continue;  // answered
      if (f.deadlineNs > now) {
        pending_[keep++] = seq;
        continue;
      }
      f.active = false;
      f.expired = true;
      lost_++;
      Result(f.id, seq, NAN, now, false);
      auto it = targets_.find(f.id);
      if (it != targets_.end()) {
        it->second.outstanding = false;
        it->second.nextSendNs = now;
      }
    }
    pending_.resize(keep);
  }

  void Result(uint32_t id, uint16_t seq, double rttMs, uint64_t atNs, bool late) {
    auto it = targets_.find(id);
    if (std::isnan(rttMs) || late) {
      urgent_ = true;
    } else if (it != targets_.end()) {
      double& ref = it->second.refRttMs;
      if (std::isnan(ref)) {
        ref = rttMs;
      } else {
        if (std::fabs(rttMs - ref) > std::max(2.0, 0.25 * ref)) urgent_ = true;
        ref += (rttMs - ref) / 8;
      }
    }
    results_.push_back(id);
    results_.push_back(seq);
    results_.push_back(rttMs);
    results_.push_back(double(atNs) / 1e6);
    results_.push_back(late ? 1 : 0);
  }

  struct Outgoing {
    uint32_t id;
    uint16_t seq;
    uint8_t frame[128];
    size_t len;
    sockaddr_ll to;
  };

  // Builds a target's probe into the batch; sent (stamped, recorded) by SendBatch.
  void Queue(uint32_t id, Target& t, uint64_t now) {
    Outgoing o = {};
    o.id = id;
    o.seq = nextSeq_++;
    o.len = Build(t, o.seq, o.frame);
    o.to.sll_family = AF_PACKET;
    o.to.sll_ifindex = int(t.ifindex);
    o.to.sll_halen = 6;
    memcpy(o.to.sll_addr, t.dstMac, 6);
    std::uniform_real_distribution<double> u(-t.jitter, t.jitter);
    t.nextSendNs = now + uint64_t(t.intervalMs * (1 + u(rng_)) * 1e6);
    t.outstanding = true;
    batch_.push_back(o);
  }

  // One sendmmsg for every probe due; each probe's send time is read just before it.
  void SendBatch(uint64_t now) {
    if (batch_.empty()) return;
    std::vector<mmsghdr> msgs(batch_.size());
    std::vector<iovec> iovs(batch_.size());
    for (size_t i = 0; i < batch_.size(); i++) {
      iovs[i] = {batch_[i].frame, batch_[i].len};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &batch_[i].to;
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_ll);
    }
    uint64_t sentAt = Clock(CLOCK_REALTIME);
    size_t done = 0;
    while (done < batch_.size()) {
      int n = sendmmsg(txFd_, msgs.data() + done, unsigned(batch_.size() - done), 0);
      if (n > 0) {
        for (int k = 0; k < n; k++) Record(batch_[done + k], sentAt, now, true);
        done += size_t(n);
        continue;
      }
      // The first of the rest failed (its interface is down or gone): as lost as a probe the
      // path dropped; the others are tried again.
      Record(batch_[done], sentAt, now, false);
      done++;
    }
  }

  void Record(const Outgoing& o, uint64_t sentRealNs, uint64_t now, bool sent) {
    InFlight& f = inflight_[o.seq];
    if (f.active) lost_++, Result(f.id, o.seq, NAN, now, false);  // wrapped around a probe still out
    f.id = o.id;
    f.sentRealNs = sentRealNs;
    f.expired = false;
    auto it = targets_.find(o.id);
    uint64_t timeoutNs = it != targets_.end() ? uint64_t(it->second.timeoutMs * 1e6) : 0;
    if (!sent) {
      sendErrors_++;
      lost_++;
      f.active = false;
      Result(o.id, o.seq, NAN, now, false);
      if (it != targets_.end()) it->second.outstanding = false;
      return;
    }
    sent_++;
    f.active = true;
    pending_.push_back(o.seq);
    f.deadlineNs = now + timeoutNs;
  }

  size_t Build(const Target& t, uint16_t seq, uint8_t* fr) {
    memcpy(fr, t.dstMac, 6);
    memcpy(fr + 6, t.srcMac, 6);
    bool v6 = t.family == 6;
    fr[12] = v6 ? 0x86 : 0x08;
    fr[13] = v6 ? 0xdd : 0x00;
    uint8_t* ip = fr + 14;
    size_t ipHdr = v6 ? 40 : 20;
    uint8_t* l4 = ip + ipHdr;
    uint8_t proto;
    size_t l4len;
    if (t.kind == kIcmp) {
      proto = v6 ? 58 : 1;
      l4len = 16;
      l4[0] = v6 ? 128 : 8;  // echo request
      l4[4] = icmpId_ >> 8, l4[5] = icmpId_ & 0xff;
      l4[6] = seq >> 8, l4[7] = seq & 0xff;
      uint32_t m = htonl(kMagic);
      memcpy(l4 + 8, &m, 4);
    } else if (t.kind == kUdp) {
      proto = 17;
      l4len = 16;
      uint16_t sp = htons(udpPort_), dp = htons(t.port), ul = htons(uint16_t(l4len));
      memcpy(l4, &sp, 2), memcpy(l4 + 2, &dp, 2), memcpy(l4 + 4, &ul, 2);
      uint32_t m = htonl(kMagic);
      memcpy(l4 + 8, &m, 4);
      l4[12] = seq >> 8, l4[13] = seq & 0xff;
    } else {
      proto = 6;
      l4len = 20;
      uint16_t sp = htons(tcpPort_), dp = htons(t.port);
      memcpy(l4, &sp, 2), memcpy(l4 + 2, &dp, 2);
      uint32_t isn = htonl((kMagic & 0xffff0000u) | seq);
      memcpy(l4 + 4, &isn, 4);
      l4[12] = 5 << 4;
      l4[13] = 0x02;  // SYN
      l4[14] = 0xff, l4[15] = 0xff;
    }
    if (v6) {
      ip[0] = 0x60;
      ip[4] = uint8_t(l4len >> 8), ip[5] = uint8_t(l4len);
      ip[6] = proto;
      ip[7] = 64;
      memcpy(ip + 8, t.src, 16);
      memcpy(ip + 24, t.dst, 16);
    } else {
      ip[0] = 0x45;
      uint16_t tot = htons(uint16_t(20 + l4len));
      memcpy(ip + 2, &tot, 2);
      ip[6] = 0x40;  // DF
      ip[8] = 64;
      ip[9] = proto;
      memcpy(ip + 12, t.src, 4);
      memcpy(ip + 16, t.dst, 4);
      uint16_t c = Fold(Sum(ip, 20));
      memcpy(ip + 10, &c, 2);
    }
    // The L4 checksum: over a pseudo-header, except ICMPv4's.
    uint32_t sum = 0;
    if (v6) {
      sum = Sum(ip + 8, 32);
      sum += uint32_t(l4len) + proto;
    } else if (proto != 1) {
      sum = Sum(ip + 12, 8);
      sum += uint32_t(l4len) + proto;
    }
    uint16_t c = Fold(Sum(l4, l4len, sum));
    size_t at = t.kind == kIcmp ? 2 : t.kind == kUdp ? 6 : 16;
    memcpy(l4 + at, &c, 2);
    return 14 + ipHdr + l4len;
  }

  // Replies: matched to the probe by sequence number; timed by the kernel's receive stamp.
  void Receive() {
    constexpr unsigned kBatch = 32;
    static thread_local uint8_t bufs[kBatch][256];
    static thread_local char controls[kBatch][128];
    for (;;) {
      mmsghdr msgs[kBatch] = {};
      iovec iovs[kBatch];
      for (unsigned i = 0; i < kBatch; i++) {
        iovs[i] = {bufs[i], sizeof(bufs[i])};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = controls[i];
        msgs[i].msg_hdr.msg_controllen = sizeof(controls[i]);
      }
      int n = recvmmsg(rxFd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      std::lock_guard<std::mutex> g(mu_);
      uint64_t now = Clock(CLOCK_MONOTONIC);
      for (int i = 0; i < n; i++) Reply(bufs[i], msgs[i].msg_len, &msgs[i].msg_hdr, now);
      if (unsigned(n) < kBatch) return;
    }
  }

  void Reply(const uint8_t* buf, size_t n, msghdr* msg, uint64_t now) {
    uint64_t rxNs = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
        timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof(ts));
        rxNs = uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
      }
    }
    if (!rxNs) rxNs = Clock(CLOCK_REALTIME);
    int seq = SeqOf(buf, n);
    if (seq < 0) return;
    InFlight& f = inflight_[seq];
    double rtt = rxNs > f.sentRealNs ? double(rxNs - f.sentRealNs) / 1e6 : 0;
    if (!f.active) {
      // After its timeout (reported lost then): reported again, late, with its RTT, so a
      // path that slowed down is told from one that died. Anything else is not ours.
      if (f.expired && targets_.count(f.id)) {
        late_++;
        f.expired = false;
        Result(f.id, uint16_t(seq), rtt, now, true);
      }
      return;
    }
    f.active = false;
    replies_++;
    Result(f.id, uint16_t(seq), rtt, now, false);
    auto it = targets_.find(f.id);
    if (it != targets_.end()) it->second.outstanding = false;
  }

  // The probe sequence number a reply carries, or -1.
  int SeqOf(const uint8_t* p, size_t n) {
    if (n < 14) return -1;
    uint16_t type = uint16_t(p[12] << 8 | p[13]);
    const uint8_t* l4;
    uint8_t proto;
    if (type == ETH_P_IP && n >= 34) {
      size_t ihl = size_t(p[14] & 0x0f) * 4;
      l4 = p + 14 + ihl;
      proto = p[23];
    } else if (type == ETH_P_IPV6 && n >= 54) {
      l4 = p + 54;
      proto = p[20];
    } else {
      return -1;
    }
    size_t left = n - size_t(l4 - p);
    if ((proto == 1 || proto == 58) && left >= 8) {
      if ((uint16_t(l4[4] << 8 | l4[5])) != icmpId_) return -1;
      return l4[6] << 8 | l4[7];
    }
    if (proto == 17 && left >= 14) {
      uint32_t m;
      memcpy(&m, l4 + 8, 4);
      if (ntohl(m) != kMagic) return -1;
      return l4[12] << 8 | l4[13];
    }
    if (proto == 6 && left >= 14) {
      // SYN/ACK or RST: either way the far end answered; its ack is our sequence + 1.
      if (!(l4[13] & 0x14)) return -1;
      uint32_t ack;
      memcpy(&ack, l4 + 8, 4);
      ack = ntohl(ack) - 1;
      if ((ack & 0xffff0000u) != (kMagic & 0xffff0000u)) return -1;
      return int(ack & 0xffff);
    }
    return -1;
  }

  std::mutex mu_;
  std::map<uint32_t, Target> targets_;
  std::vector<InFlight> inflight_ = std::vector<InFlight>(65536);
  std::vector<Outgoing> batch_;
  Napi::ThreadSafeFunction urgentFn_;
  bool hasUrgentFn_ = false;
  bool urgent_ = false;  // a result since the last pass that JavaScript should see now
  std::vector<uint16_t> pending_;  // sequence numbers in flight (some answered meanwhile)
  std::vector<double> results_;
  std::mt19937_64 rng_;
  uint16_t icmpId_ = 0, udpPort_ = 0, tcpPort_ = 0, nextSeq_ = 0;
  int txFd_ = -1, rxFd_ = -1, wakeFd_ = -1, udpFd_ = -1, tcpFd_ = -1;
  std::atomic<bool> running_{true};
  std::atomic<uint64_t> urgentCalls_{0}, sent_{0}, replies_{0}, lost_{0}, late_{0}, sendErrors_{0};
  std::thread thread_;
};

}  // namespace

void InitProber(Napi::Env env, Napi::Object exports) { PathProber::Init(env, exports); }

}  // namespace pw
