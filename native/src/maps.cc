// Map operations on an fd with caller-provided buffers. TypeScript encodes keys and values with
// the generated codecs; these functions only check sizes and make the syscall. They are
// synchronous: each is one short syscall (batch calls move many entries per syscall).
#include <bpf/bpf.h>
#include <fcntl.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace pw {

static uint64_t OptFlags(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return 0;
  if (info[i].IsBigInt()) {
    bool lossless;
    return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return (uint64_t)info[i].As<Napi::Number>().Int64Value();
}

// The sizes the kernel will read and write for a map, from the map itself: a buffer shorter
// than them would let the kernel read past it (or write past it). One info syscall per call.
struct MapShape {
  uint32_t type;
  uint32_t key;
  uint32_t value;  // as user space sees it: per CPU, rounded up to 8 bytes, times the CPUs
};

static bool IsPerCpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static MapShape ShapeOf(Napi::Env env, int fd) {
  bpf_map_info mi{};
  ObjInfo(env, fd, &mi, sizeof(mi), "fd " + std::to_string(fd));
  MapShape s{mi.type, mi.key_size, mi.value_size};
  if (IsPerCpu(mi.type)) {
    int cpus = libbpf_num_possible_cpus();
    if (cpus < 0) ThrowErrno(env, cpus, "libbpf_num_possible_cpus");
    s.value = ((mi.value_size + 7) / 8) * 8 * static_cast<uint32_t>(cpus);
  }
  return s;
}

static void NeedBytes(Napi::Env env, const char* what, size_t have, uint64_t need) {
  if (have < need)
    throw Napi::RangeError::New(env, std::string(what) + ": " + std::to_string(have) + " bytes, the map needs " + std::to_string(need));
}

// lookup(fd, key, valueOut, flags?) -> boolean (false when the key is absent)
static Napi::Value Lookup(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  size_t kl, vl;
  void* k = ArgBytes(info, 1, "key", &kl);
  void* v = ArgBytes(info, 2, "value", &vl);
  MapShape sh = ShapeOf(info.Env(), fd);
  NeedBytes(info.Env(), "key", kl, sh.key);
  NeedBytes(info.Env(), "value", vl, sh.value);
  int err = bpf_map_lookup_elem_flags(fd, k, v, OptFlags(info, 3));
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "bpf_map_lookup_elem");
  }
  return Napi::Boolean::New(info.Env(), true);
}

// lookupAndDelete(fd, key, valueOut) -> boolean
static Napi::Value LookupAndDelete(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  size_t kl, vl;
  void* k = info[1].IsNull() ? nullptr : ArgBytes(info, 1, "key", &kl);
  void* v = ArgBytes(info, 2, "value", &vl);
  MapShape sh = ShapeOf(info.Env(), fd);
  if (k) NeedBytes(info.Env(), "key", kl, sh.key);
  NeedBytes(info.Env(), "value", vl, sh.value);
  int err = bpf_map_lookup_and_delete_elem(fd, k, v);
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "bpf_map_lookup_and_delete_elem");
  }
  return Napi::Boolean::New(info.Env(), true);
}

// update(fd, key, value, flags?)  flags: BPF_ANY / BPF_NOEXIST / BPF_EXIST / BPF_F_LOCK
static Napi::Value Update(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  size_t kl, vl;
  void* k = info[1].IsNull() ? nullptr : ArgBytes(info, 1, "key", &kl);
  void* v = ArgBytes(info, 2, "value", &vl);
  MapShape sh = ShapeOf(info.Env(), fd);
  if (k) NeedBytes(info.Env(), "key", kl, sh.key);
  NeedBytes(info.Env(), "value", vl, sh.value);
  if (bpf_map_update_elem(fd, k, v, OptFlags(info, 3))) ThrowErrno(info.Env(), errno, "bpf_map_update_elem");
  return info.Env().Undefined();
}

// delete(fd, key) -> boolean (false when absent)
static Napi::Value Delete(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  size_t kl;
  void* k = ArgBytes(info, 1, "key", &kl);
  NeedBytes(info.Env(), "key", kl, ShapeOf(info.Env(), fd).key);
  if (bpf_map_delete_elem(fd, k)) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "bpf_map_delete_elem");
  }
  return Napi::Boolean::New(info.Env(), true);
}

// getNextKey(fd, key|null, nextOut) -> boolean (false at the end)
static Napi::Value GetNextKey(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  size_t kl, nl;
  void* k = info[1].IsNull() || info[1].IsUndefined() ? nullptr : ArgBytes(info, 1, "key", &kl);
  void* n = ArgBytes(info, 2, "next", &nl);
  MapShape sh = ShapeOf(info.Env(), fd);
  if (k) NeedBytes(info.Env(), "key", kl, sh.key);
  NeedBytes(info.Env(), "next", nl, sh.key);
  if (bpf_map_get_next_key(fd, k, n)) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "bpf_map_get_next_key");
  }
  return Napi::Boolean::New(info.Env(), true);
}

static bpf_map_batch_opts BatchOpts(const Napi::CallbackInfo& info, size_t i) {
  bpf_map_batch_opts o;
  memset(&o, 0, sizeof(o));
  o.sz = sizeof(o);
  if (i < info.Length() && info[i].IsObject()) {
    Napi::Object obj = info[i].As<Napi::Object>();
    if (obj.Has("elemFlags")) o.elem_flags = obj.Get("elemFlags").As<Napi::Number>().Int64Value();
    if (obj.Has("flags")) o.flags = obj.Get("flags").As<Napi::Number>().Int64Value();
  }
  return o;
}

// The arguments of a batch lookup, checked against the map: (fd, inBatch|null, outBatch, keys,
// values, count). inBatch/outBatch are opaque cursors: a bucket number (u32) for hash maps, a
// key for the others (callers pass a buffer of >= max(key size, 8) bytes).
struct BatchLookupArgs {
  int fd;
  void *in, *out, *keys, *values;
  uint32_t count;
};
static BatchLookupArgs ParseBatchLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BatchLookupArgs a;
  a.fd = ArgInt(info, 0, "fd");
  size_t inl = 0, outl, kl, vl;
  a.in = info[1].IsNull() || info[1].IsUndefined() ? nullptr : ArgBytes(info, 1, "inBatch", &inl);
  a.out = ArgBytes(info, 2, "outBatch", &outl);
  a.keys = ArgBytes(info, 3, "keys", &kl);
  a.values = ArgBytes(info, 4, "values", &vl);
  a.count = ArgU32(info, 5, "count");
  MapShape sh = ShapeOf(env, a.fd);
  bool hash = sh.type == BPF_MAP_TYPE_HASH || sh.type == BPF_MAP_TYPE_PERCPU_HASH || sh.type == BPF_MAP_TYPE_LRU_HASH ||
              sh.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
  uint32_t cursor = hash ? 4 : sh.key;
  if (a.in) NeedBytes(env, "inBatch", inl, cursor);
  NeedBytes(env, "outBatch", outl, cursor);
  NeedBytes(env, "keys", kl, uint64_t(a.count) * sh.key);
  NeedBytes(env, "values", vl, uint64_t(a.count) * sh.value);
  return a;
}

// lookupBatch(fd, inBatch|null, outBatch, keys, values, count, opts?) -> { count, done }.
static Napi::Value LookupBatchImpl(const Napi::CallbackInfo& info, bool andDelete) {
  Napi::Env env = info.Env();
  BatchLookupArgs a = ParseBatchLookup(info);
  bpf_map_batch_opts o = BatchOpts(info, 6);
  int err = andDelete ? bpf_map_lookup_and_delete_batch(a.fd, a.in, a.out, a.keys, a.values, &a.count, &o)
                      : bpf_map_lookup_batch(a.fd, a.in, a.out, a.keys, a.values, &a.count, &o);
  bool done = false;
  if (err) {
    // ENOENT means "no more entries"; count still tells how many were returned.
    if (errno == ENOENT) done = true;
    else ThrowErrno(env, errno, andDelete ? "bpf_map_lookup_and_delete_batch" : "bpf_map_lookup_batch");
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("count", (double)a.count);
  r.Set("done", done);
  return r;
}
static Napi::Value LookupBatch(const Napi::CallbackInfo& info) { return LookupBatchImpl(info, false); }
static Napi::Value LookupAndDeleteBatch(const Napi::CallbackInfo& info) { return LookupBatchImpl(info, true); }

// lookupBatchAsync(fd, inBatch|null, outBatch, keys, values, count) -> Promise<{ count, done }>:
//   one batch lookup as lookupBatch, on a libuv worker thread. A million-entry hash map takes
//   the kernel ~0.5 s to copy out; read in steps on the daemon's thread, that held its event
//   loop for all of it. The worker holds the buffers (JS may not free them meanwhile) and its
//   own dup of the fd (closing the map meanwhile cannot hand the read another object).
class LookupBatchWorker : public Napi::AsyncWorker {
 public:
  explicit LookupBatchWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  ~LookupBatchWorker() override {
    if (fd >= 0) close(fd);
  }
  int fd = -1;
  void *in = nullptr, *out = nullptr, *keys = nullptr, *values = nullptr;
  uint32_t count = 0;
  std::vector<Napi::Reference<Napi::Value>> held;
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    bpf_map_batch_opts o;
    memset(&o, 0, sizeof(o));
    o.sz = sizeof(o);
    if (bpf_map_lookup_batch(fd, in, out, keys, values, &count, &o)) {
      if (errno == ENOENT) done_ = true;
      else err_ = errno;
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_) return deferred_.Reject(ErrnoError(env, err_, "bpf_map_lookup_batch").Value());
    Napi::Object r = Napi::Object::New(env);
    r.Set("count", (double)count);
    r.Set("done", done_);
    deferred_.Resolve(r);
  }

 private:
  Napi::Promise::Deferred deferred_;
  bool done_ = false;
  int err_ = 0;
};

static Napi::Value LookupBatchAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BatchLookupArgs a = ParseBatchLookup(info);
  int own = fcntl(a.fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) ThrowErrno(env, errno, "fcntl(F_DUPFD_CLOEXEC)");
  auto* w = new LookupBatchWorker(env);
  w->fd = own;
  w->in = a.in;
  w->out = a.out;
  w->keys = a.keys;
  w->values = a.values;
  w->count = a.count;
  for (size_t i = 1; i <= 4; i++)
    if (info[i].IsObject()) w->held.push_back(Napi::Persistent(info[i]));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// updateBatch(fd, keys, values, count, opts?) -> count applied. On failure the error carries
// `applied`: how many leading entries the kernel did write before failing.
static Napi::Value UpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  size_t kl, vl;
  void* keys = ArgBytes(info, 1, "keys", &kl);
  void* values = ArgBytes(info, 2, "values", &vl);
  uint32_t count = ArgU32(info, 3, "count");
  MapShape sh = ShapeOf(env, fd);
  NeedBytes(env, "keys", kl, uint64_t(count) * sh.key);
  NeedBytes(env, "values", vl, uint64_t(count) * sh.value);
  bpf_map_batch_opts o = BatchOpts(info, 4);
  if (bpf_map_update_batch(fd, keys, values, &count, &o)) {
    Napi::Error e = ErrnoError(env, errno, "bpf_map_update_batch");
    e.Set("applied", (double)count);
    throw e;
  }
  return Napi::Number::New(env, count);
}

// deleteBatch(fd, keys, count, opts?) -> count deleted (error carries `applied`).
static Napi::Value DeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  size_t kl;
  void* keys = ArgBytes(info, 1, "keys", &kl);
  uint32_t count = ArgU32(info, 2, "count");
  NeedBytes(env, "keys", kl, uint64_t(count) * ShapeOf(env, fd).key);
  bpf_map_batch_opts o = BatchOpts(info, 3);
  if (bpf_map_delete_batch(fd, keys, &count, &o)) {
    Napi::Error e = ErrnoError(env, errno, "bpf_map_delete_batch");
    e.Set("applied", (double)count);
    throw e;
  }
  return Napi::Number::New(env, count);
}

// freeze(fd): make a map read-only for user space (used for settings maps).
static Napi::Value Freeze(const Napi::CallbackInfo& info) {
  if (bpf_map_freeze(ArgInt(info, 0, "fd"))) ThrowErrno(info.Env(), errno, "bpf_map_freeze");
  return info.Env().Undefined();
}

// mapInfo(fd) -> { id, type, name, keySize, valueSize, maxEntries, flags, btfId }
static Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map_info mi{};
  ObjInfo(env, ArgInt(info, 0, "fd"), &mi, sizeof(mi));
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", (double)mi.id);
  o.Set("type", (double)mi.type);
  o.Set("name", mi.name);
  o.Set("keySize", (double)mi.key_size);
  o.Set("valueSize", (double)mi.value_size);
  o.Set("maxEntries", (double)mi.max_entries);
  o.Set("flags", (double)mi.map_flags);
  o.Set("btfId", (double)mi.btf_id);
  return o;
}

// progInfo(fd) -> { id, type, name, tag, runTimeNs, btfId, runCount, verifiedInsns }
static Napi::Value ProgInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_prog_info pi{};
  ObjInfo(env, ArgInt(info, 0, "fd"), &pi, sizeof(pi));
  char tag[BPF_TAG_SIZE * 2 + 1];
  for (int i = 0; i < BPF_TAG_SIZE; i++) snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", (double)pi.id);
  o.Set("type", (double)pi.type);
  o.Set("name", pi.name);
  o.Set("tag", tag);
  o.Set("runTimeNs", (double)pi.run_time_ns);
  o.Set("btfId", (double)pi.btf_id);
  o.Set("runCount", (double)pi.run_cnt);
  o.Set("verifiedInsns", (double)pi.verified_insns);
  return o;
}

// progLines(fd) -> { funcs: [{ addr, len }], lines: [{ addr, insn, file, line, col, source }] }:
// where the JIT put each of the program's functions and each source line's first instruction
// (kernel addresses as BigInt), for a profiler that maps perf's samples to source lines (perf
// without libopcodes cannot annotate BPF). Needs the privilege that exposes kernel addresses.
static Napi::Value ProgLines(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  bpf_prog_info pi{};
  ObjInfo(env, fd, &pi, sizeof(pi));
  const uint32_t nks = pi.nr_jited_ksyms, nfl = pi.nr_jited_func_lens, nli = pi.nr_line_info, njli = pi.nr_jited_line_info;
  const uint32_t btf_id = pi.btf_id;
  if (!nks || nli != njli) {
    throw Napi::Error::New(env, "the program has no JIT addresses or line info to read (not JITed, no BTF, or kernel addresses hidden)");
  }
  std::vector<uint64_t> ksyms(nks), jlines(njli);
  std::vector<uint32_t> flens(nfl);
  std::vector<bpf_line_info> lines(nli);
  pi = {};
  pi.nr_jited_ksyms = nks;
  pi.jited_ksyms = (uint64_t)(uintptr_t)ksyms.data();
  pi.nr_jited_func_lens = nfl;
  pi.jited_func_lens = (uint64_t)(uintptr_t)flens.data();
  pi.nr_line_info = nli;
  pi.line_info_rec_size = sizeof(bpf_line_info);
  pi.line_info = (uint64_t)(uintptr_t)lines.data();
  pi.nr_jited_line_info = njli;
  pi.jited_line_info_rec_size = sizeof(uint64_t);
  pi.jited_line_info = (uint64_t)(uintptr_t)jlines.data();
  ObjInfo(env, fd, &pi, sizeof(pi));
  struct btf* btf = KernelBtf(env, btf_id);
  Napi::Array funcs = Napi::Array::New(env, nks);
  for (uint32_t i = 0; i < nks; i++) {
    Napi::Object f = Napi::Object::New(env);
    f.Set("addr", Napi::BigInt::New(env, ksyms[i]));
    f.Set("len", (double)(i < nfl ? flens[i] : 0));
    funcs.Set(i, f);
  }
  Napi::Array out = Napi::Array::New(env, nli);
  for (uint32_t i = 0; i < nli; i++) {
    const char* file = btf__name_by_offset(btf, lines[i].file_name_off);
    const char* src = btf__name_by_offset(btf, lines[i].line_off);
    Napi::Object l = Napi::Object::New(env);
    l.Set("addr", Napi::BigInt::New(env, jlines[i]));
    l.Set("insn", (double)lines[i].insn_off);
    l.Set("file", file ? file : "");
    l.Set("line", (double)BPF_LINE_INFO_LINE_NUM(lines[i].line_col));
    l.Set("col", (double)BPF_LINE_INFO_LINE_COL(lines[i].line_col));
    l.Set("source", src ? src : "");
    out.Set(i, l);
  }
  btf__free(btf);
  Napi::Object o = Napi::Object::New(env);
  o.Set("funcs", funcs);
  o.Set("lines", out);
  return o;
}

// progXlated(fd) -> { insns: Buffer, funcStarts: number[], funcNames: string[] }: the program
// as the verifier left it (struct bpf_insn[]; a call to one of its functions holds the distance
// to it in off) and where each of its functions starts, with its name, in the verifier's order.
// What the verifier removed as dead is gone from all three. Needs the privilege that shows raw
// instructions.
static Napi::Value ProgXlated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  bpf_prog_info pi{};
  ObjInfo(env, fd, &pi, sizeof(pi));
  const uint32_t len = pi.xlated_prog_len, nfuncs = pi.nr_func_info, recSize = pi.func_info_rec_size;
  if (!len || !nfuncs || recSize < sizeof(bpf_func_info)) {
    throw Napi::Error::New(env, "the program's instructions or function info cannot be read (no BTF, or raw instructions hidden)");
  }
  std::vector<uint8_t> insns(len), funcs((size_t)nfuncs * recSize);
  pi = {};
  pi.xlated_prog_len = len;
  pi.xlated_prog_insns = (uint64_t)(uintptr_t)insns.data();
  pi.nr_func_info = nfuncs;
  pi.func_info_rec_size = recSize;
  pi.func_info = (uint64_t)(uintptr_t)funcs.data();
  ObjInfo(env, fd, &pi, sizeof(pi));
  struct btf* btf = KernelBtf(env, pi.btf_id);
  Napi::Array starts = Napi::Array::New(env, nfuncs);
  Napi::Array names = Napi::Array::New(env, nfuncs);
  for (uint32_t i = 0; i < nfuncs; i++) {
    bpf_func_info fi;
    memcpy(&fi, funcs.data() + (size_t)i * recSize, sizeof(fi));
    starts.Set(i, (double)fi.insn_off);
    const struct btf_type* t = btf__type_by_id(btf, fi.type_id);
    const char* name = t ? btf__name_by_offset(btf, t->name_off) : nullptr;
    names.Set(i, name ? name : "");
  }
  btf__free(btf);
  Napi::Object o = Napi::Object::New(env);
  o.Set("funcNames", names);
  o.Set("insns", Napi::Buffer<uint8_t>::Copy(env, insns.data(), std::min<size_t>(len, pi.xlated_prog_len)));
  o.Set("funcStarts", starts);
  return o;
}

// linkInfo(fd) -> { id, type, progId, ifindex? }
static Napi::Value LinkInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_link_info li{};
  ObjInfo(env, ArgInt(info, 0, "fd"), &li, sizeof(li));
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", (double)li.id);
  o.Set("type", (double)li.type);
  o.Set("progId", (double)li.prog_id);
  if (li.type == BPF_LINK_TYPE_XDP) o.Set("ifindex", (double)li.xdp.ifindex);
  return o;
}

static Napi::Value ByIdImpl(const Napi::CallbackInfo& info, int kind) {
  uint32_t id = ArgU32(info, 0, "id");
  int fd = kind == 0 ? bpf_map_get_fd_by_id(id) : kind == 1 ? bpf_prog_get_fd_by_id(id) : bpf_link_get_fd_by_id(id);
  const char* names[] = {"bpf_map_get_fd_by_id", "bpf_prog_get_fd_by_id", "bpf_link_get_fd_by_id"};
  const char* kinds[] = {"map", "prog", "link"};
  if (fd < 0) ThrowErrno(info.Env(), errno, names[kind], "id " + std::to_string(id));
  return NewFd(info.Env(), fd, kinds[kind]);
}
static Napi::Value MapFdById(const Napi::CallbackInfo& info) { return ByIdImpl(info, 0); }
static Napi::Value ProgFdById(const Napi::CallbackInfo& info) { return ByIdImpl(info, 1); }
static Napi::Value LinkFdById(const Napi::CallbackInfo& info) { return ByIdImpl(info, 2); }

// mapCreate(type, name, keySize, valueSize, maxEntries, flags) -> Fd. For maps that belong
// to no object (tests, scratch maps); pipeline maps come from the object.
static Napi::Value MapCreate(const Napi::CallbackInfo& info) {
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  opts.map_flags = info.Length() > 5 ? ArgU32(info, 5, "flags") : 0;
  std::string name = ArgString(info, 1, "name");
  int fd = bpf_map_create((enum bpf_map_type)ArgU32(info, 0, "type"), name.c_str(), ArgU32(info, 2, "keySize"),
                          ArgU32(info, 3, "valueSize"), ArgU32(info, 4, "maxEntries"), &opts);
  if (fd < 0) ThrowErrno(info.Env(), errno, "bpf_map_create", name);
  return NewFd(info.Env(), fd, "map");
}

void InitMaps(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New(env, Lookup));
  exports.Set("mapLookupAndDelete", Napi::Function::New(env, LookupAndDelete));
  exports.Set("mapUpdate", Napi::Function::New(env, Update));
  exports.Set("mapDelete", Napi::Function::New(env, Delete));
  exports.Set("mapGetNextKey", Napi::Function::New(env, GetNextKey));
  exports.Set("mapLookupBatch", Napi::Function::New(env, LookupBatch));
  exports.Set("mapLookupBatchAsync", Napi::Function::New(env, LookupBatchAsync));
  exports.Set("mapLookupAndDeleteBatch", Napi::Function::New(env, LookupAndDeleteBatch));
  exports.Set("mapUpdateBatch", Napi::Function::New(env, UpdateBatch));
  exports.Set("mapDeleteBatch", Napi::Function::New(env, DeleteBatch));
  exports.Set("mapFreeze", Napi::Function::New(env, Freeze));
  exports.Set("mapInfo", Napi::Function::New(env, MapInfo));
  exports.Set("progInfo", Napi::Function::New(env, ProgInfo));
  exports.Set("progXlated", Napi::Function::New(env, ProgXlated));
  exports.Set("progLines", Napi::Function::New(env, ProgLines));
  exports.Set("linkInfo", Napi::Function::New(env, LinkInfo));
  exports.Set("mapFdById", Napi::Function::New(env, MapFdById));
  exports.Set("progFdById", Napi::Function::New(env, ProgFdById));
  exports.Set("linkFdById", Napi::Function::New(env, LinkFdById));
  exports.Set("mapCreate", Napi::Function::New(env, MapCreate));
  exports.Set("numPossibleCpus", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                int n = libbpf_num_possible_cpus();
                if (n < 0) ThrowErrno(info.Env(), n, "libbpf_num_possible_cpus");
                return Napi::Number::New(info.Env(), n);
              }));
}

}  // namespace pw
