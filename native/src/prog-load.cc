// Programs built at run time from raw instructions (no ELF, no BTF): Pathwise's capture filters,
// which user space translates from the classic BPF libpcap compiles. The map fds they use are
// already in their instructions (BPF_PSEUDO_MAP_FD).
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common.h"

namespace pw {

// progLoadRaw(progType, insns: Buffer of struct bpf_insn, name, expectedAttachType = 0) -> Fd
// ("prog"). A program that shares a prog array with others must match their expected attach
// type (libbpf gives SEC("xdp") programs BPF_XDP), or the kernel refuses it (EINVAL) after
// verification. On a verifier refusal the error carries verifierLog.
static Napi::Value ProgLoadRaw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto type = static_cast<enum bpf_prog_type>(ArgInt(info, 0, "progType"));
  size_t bytes;
  auto* insns = static_cast<const struct bpf_insn*>(ArgBytes(info, 1, "insns", &bytes));
  std::string name = ArgString(info, 2, "name");
  if (bytes == 0 || bytes % sizeof(struct bpf_insn)) ThrowErrno(env, EINVAL, "progLoadRaw", "insns must be whole 8-byte instructions");
  size_t count = bytes / sizeof(struct bpf_insn);
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  opts.expected_attach_type = static_cast<enum bpf_attach_type>(info.Length() > 3 ? ArgU32(info, 3, "expectedAttachType") : 0);
  int fd = bpf_prog_load(type, name.c_str(), "GPL", insns, count, &opts);
  if (fd >= 0) return NewFd(env, fd, "prog");
  // Load again with the verifier's log, to say why.
  int saved = errno;
  std::vector<char> log(1 << 20);
  opts.log_buf = log.data();
  opts.log_size = log.size();
  opts.log_level = 1;
  fd = bpf_prog_load(type, name.c_str(), "GPL", insns, count, &opts);
  if (fd >= 0) return NewFd(env, fd, "prog");
  Napi::Error e = ErrnoError(env, saved, "bpf_prog_load", name);
  e.Set("verifierLog", Napi::String::New(env, log.data()));
  throw e;
}

void InitProgLoad(Napi::Env env, Napi::Object exports) {
  exports.Set("progLoadRaw", Napi::Function::New(env, ProgLoadRaw));
}

}  // namespace pw
