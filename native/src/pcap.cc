// libpcap: reading capture files (pcap and pcapng) and compiling tcpdump filter expressions.
// Pathwise never parses capture formats or filter syntax itself.
#include <fcntl.h>
#include <sys/stat.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace pw {

class PcapReader : public Napi::ObjectWrap<PcapReader> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "PcapReader",
                                   {
                                       InstanceMethod<&PcapReader::Next>("next"),
                                       InstanceMethod<&PcapReader::Close>("close"),
                                       InstanceAccessor<&PcapReader::GetLinktype>("linktype"),
                                       InstanceAccessor<&PcapReader::GetSnaplen>("snaplen"),
                                   });
    exports.Set("PcapReader", f);
  }

  // new PcapReader(path): pcap_open_offline (pcap or pcapng).
  PcapReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PcapReader>(info) {
    std::string path = ArgString(info, 0, "path");
    char err[PCAP_ERRBUF_SIZE] = "";
    p_ = pcap_open_offline(path.c_str(), err);
    if (!p_) {
      Napi::Error e = Napi::Error::New(info.Env(), std::string(err));
      e.Set("code", Napi::String::New(info.Env(), "EPCAP"));
      e.Set("syscall", Napi::String::New(info.Env(), "pcap_open_offline"));
      throw e;
    }
  }
  ~PcapReader() override {
    if (p_) pcap_close(p_);
  }

 private:
  // next(max) -> [{ tsSec, tsUsec, len, data }], empty at the end of the file.
  Napi::Value Next(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!p_) ThrowErrno(env, EBADF, "pcap", "reader is closed");
    uint32_t max = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 1024;
    if (!pending_error_.empty()) {
      Napi::Error e = Napi::Error::New(env, pending_error_);
      e.Set("code", Napi::String::New(env, "EPCAP"));
      e.Set("packetIndex", (double)count_);
      throw e;
    }
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    while (n < max) {
      struct pcap_pkthdr* h;
      const u_char* data;
      int rc = pcap_next_ex(p_, &h, &data);
      if (rc == PCAP_ERROR_BREAK) break;  // end of file
      if (rc != 1 && n > 0) {
        // The packets before the damage are returned; the next call reports it.
        pending_error_ = std::string("pcap_next_ex: ") + pcap_geterr(p_);
        break;
      }
      if (rc != 1) {
        Napi::Error e = Napi::Error::New(env, std::string("pcap_next_ex: ") + pcap_geterr(p_));
        e.Set("code", Napi::String::New(env, "EPCAP"));
        e.Set("packetIndex", (double)count_);
        throw e;
      }
      Napi::Object o = Napi::Object::New(env);
      o.Set("tsSec", (double)h->ts.tv_sec);
      o.Set("tsUsec", (double)h->ts.tv_usec);
      o.Set("len", (double)h->len);
      o.Set("data", Napi::Buffer<uint8_t>::Copy(env, data, h->caplen));
      out.Set(n++, o);
      count_++;
    }
    return out;
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (p_) {
      pcap_close(p_);
      p_ = nullptr;
    }
    return info.Env().Undefined();
  }
  Napi::Value GetLinktype(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), p_ ? pcap_datalink(p_) : -1);
  }
  Napi::Value GetSnaplen(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), p_ ? pcap_snapshot(p_) : 0);
  }

  pcap_t* p_ = nullptr;
  double count_ = 0;
  std::string pending_error_;  // damage found after some packets of a batch were read
};

// PcapWriter: libpcap's savefile writer (pcap_dump), so files are what tcpdump writes.
class PcapWriter : public Napi::ObjectWrap<PcapWriter> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "PcapWriter",
                                   {
                                       InstanceMethod<&PcapWriter::Write>("write"),
                                       InstanceMethod<&PcapWriter::Flush>("flush"),
                                       InstanceMethod<&PcapWriter::Close>("close"),
                                   });
    exports.Set("PcapWriter", f);
  }

  // new PcapWriter(path, linktype, snaplen); path "-" writes to standard output.
  PcapWriter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PcapWriter>(info) {
    std::string path = ArgString(info, 0, "path");
    int linktype = info.Length() > 1 ? ArgInt(info, 1, "linktype") : DLT_EN10MB;
    int snaplen = info.Length() > 2 ? ArgInt(info, 2, "snaplen") : 262144;
    p_ = pcap_open_dead(linktype, snaplen);
    if (!p_) ThrowErrno(info.Env(), ENOMEM, "pcap_open_dead");
    if (path == "-") {
      d_ = pcap_dump_open(p_, "-");
    } else {
      // Captures hold packet payloads: readable by the owner only, and never written through
      // a symbolic link someone else planted where the file is to be.
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) {
        int err = errno;
        pcap_close(p_);
        p_ = nullptr;
        ThrowErrno(info.Env(), err, "open", err == ELOOP ? path + " is a symbolic link" : path);
      }
      fchmod(fd, 0600);  // an existing file keeps its mode otherwise
      FILE* f = fdopen(fd, "wb");
      if (!f) {
        int err = errno;
        close(fd);
        pcap_close(p_);
        p_ = nullptr;
        ThrowErrno(info.Env(), err, "fdopen", path);
      }
      d_ = pcap_dump_fopen(p_, f);
      if (!d_) fclose(f);
    }
    if (!d_) {
      Napi::Error e = Napi::Error::New(info.Env(), std::string("pcap_dump_open: ") + pcap_geterr(p_));
      e.Set("code", Napi::String::New(info.Env(), "EPCAP"));
      pcap_close(p_);
      p_ = nullptr;
      throw e;
    }
  }
  ~PcapWriter() override { Finish(); }

 private:
  void Finish() {
    if (d_) {
      pcap_dump_close(d_);
      d_ = nullptr;
    }
    if (p_) {
      pcap_close(p_);
      p_ = nullptr;
    }
  }
  // flush(): what was written reaches the file (or a pipe's reader) now.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    if (d_ && pcap_dump_flush(d_)) ThrowErrno(info.Env(), errno, "pcap_dump_flush");
    return info.Env().Undefined();
  }
  // write(tsSec, tsUsec, data, origLen?)
  Napi::Value Write(const Napi::CallbackInfo& info) {
    if (!d_) ThrowErrno(info.Env(), EBADF, "pcap_dump", "writer is closed");
    size_t len;
    void* data = ArgBytes(info, 2, "data", &len);
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)info[0].As<Napi::Number>().Int64Value();
    h.ts.tv_usec = (suseconds_t)info[1].As<Napi::Number>().Int64Value();
    h.caplen = (bpf_u_int32)len;
    h.len = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : (bpf_u_int32)len;
    pcap_dump(reinterpret_cast<u_char*>(d_), &h, static_cast<const u_char*>(data));
    return info.Env().Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Finish();
    return info.Env().Undefined();
  }

  pcap_t* p_ = nullptr;
  pcap_dumper_t* d_ = nullptr;
};

// pcapCompile(expr, linktype, snaplen) -> Buffer of struct bpf_insn (classic BPF, 8 bytes each),
// as tcpdump would apply it. A syntax error throws with libpcap's message.
static Napi::Value PcapCompile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string expr = ArgString(info, 0, "expression");
  int linktype = info.Length() > 1 ? ArgInt(info, 1, "linktype") : DLT_EN10MB;
  int snaplen = info.Length() > 2 ? ArgInt(info, 2, "snaplen") : 262144;
  pcap_t* p = pcap_open_dead(linktype, snaplen);
  if (!p) ThrowErrno(env, ENOMEM, "pcap_open_dead");
  struct bpf_program prog;
  if (pcap_compile(p, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    Napi::Error e = Napi::Error::New(env, std::string("invalid filter expression: ") + pcap_geterr(p));
    e.Set("code", Napi::String::New(env, "EFILTER"));
    pcap_close(p);
    throw e;
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(prog.bf_insns), prog.bf_len * sizeof(struct bpf_insn));
  pcap_freecode(&prog);
  pcap_close(p);
  return out;
}

// pcapFilter(insns, packet, wirelen?) -> what libpcap's own interpreter (bpf_filter, which
// tcpdump -r applies) returns for the packet: 0 = no match, else the snap length.
static Napi::Value PcapFilter(const Napi::CallbackInfo& info) {
  size_t insnBytes, pktLen;
  auto* insns = static_cast<const struct bpf_insn*>(ArgBytes(info, 0, "insns", &insnBytes));
  auto* pkt = static_cast<const u_char*>(ArgBytes(info, 1, "packet", &pktLen));
  u_int wirelen = info.Length() > 2 ? ArgU32(info, 2, "wirelen") : static_cast<u_int>(pktLen);
  if (insnBytes == 0 || insnBytes % sizeof(struct bpf_insn)) ThrowErrno(info.Env(), EINVAL, "pcapFilter", "insns must be whole 8-byte instructions");
  return Napi::Number::New(info.Env(), bpf_filter(insns, pkt, wirelen, static_cast<u_int>(pktLen)));
}

void InitPcap(Napi::Env env, Napi::Object exports) {
  exports.Set("pcapFilter", Napi::Function::New(env, PcapFilter));
  PcapReader::Init(env, exports);
  PcapWriter::Init(env, exports);
  exports.Set("pcapCompile", Napi::Function::New(env, PcapCompile));
  exports.Set("pcapLibVersion", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                return Napi::String::New(info.Env(), pcap_lib_version());
              }));
}

}  // namespace pw
