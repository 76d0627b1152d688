// BpfObject: an ELF object opened with libbpf. Before load, TypeScript sets rodata settings,
// map sizes and pin paths; load runs on a worker thread (verification can take a while) and a
// failure carries libbpf's log and the verifier's log. Map and program fds handed out are dups,
// so they outlive the object and each has one owner.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common.h"

namespace pw {

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(
        env, "BpfObject",
        {
            InstanceMethod<&BpfObject::Maps>("maps"),
            InstanceMethod<&BpfObject::Programs>("programs"),
            InstanceMethod<&BpfObject::DatasecVars>("datasecVars"),
            InstanceMethod<&BpfObject::GetInitialValue>("getInitialValue"),
            InstanceMethod<&BpfObject::SetInitialValue>("setInitialValue"),
            InstanceMethod<&BpfObject::SetMaxEntries>("setMaxEntries"),
            InstanceMethod<&BpfObject::SetPinPath>("setPinPath"),
            InstanceMethod<&BpfObject::ReuseMapFd>("reuseMapFd"),
            InstanceMethod<&BpfObject::SetAutoload>("setAutoload"),
            InstanceMethod<&BpfObject::KeepVerifierStats>("keepVerifierStats"),
            InstanceMethod<&BpfObject::VerifierStats>("verifierStats"),
            InstanceMethod<&BpfObject::Load>("load"),
            InstanceMethod<&BpfObject::MapFd>("mapFd"),
            InstanceMethod<&BpfObject::ProgramFd>("programFd"),
            InstanceMethod<&BpfObject::Close>("close"),
            InstanceAccessor<&BpfObject::GetLoaded>("loaded"),
            InstanceAccessor<&BpfObject::GetClosed>("closed"),
        });
    exports.Set("BpfObject", f);
  }

  // new BpfObject(path): bpf_object__open_file.
  BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
    std::string path = ArgString(info, 0, "path");
    LibbpfLogCapture cap;
    obj_ = bpf_object__open_file(path.c_str(), nullptr);
    if (!obj_) {
      int err = errno;
      ThrowErrno(info.Env(), err, "bpf_object__open_file", path + trimmed(cap.Take()));
    }
  }
  ~BpfObject() override { Destroy(); }

  bpf_object* obj() const { return obj_; }
  void MarkLoaded() { loaded_ = true; }

 private:
  static std::string trimmed(const std::string& s) {
    if (s.empty()) return "";
    std::string t = s;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    return ": " + t;
  }

  void Destroy() {
    if (obj_) {
      bpf_object__close(obj_);
      obj_ = nullptr;
    }
  }

  bpf_object* Need(Napi::Env env) {
    if (!obj_) ThrowErrno(env, EBADF, "bpf_object", "object is closed");
    return obj_;
  }

  bpf_map* FindMap(Napi::Env env, const std::string& name) {
    bpf_map* m = bpf_object__find_map_by_name(Need(env), name.c_str());
    if (!m) ThrowErrno(env, ENOENT, "bpf_object__find_map_by_name", "no map named '" + name + "'");
    return m;
  }

  bpf_program* FindProg(Napi::Env env, const std::string& name) {
    bpf_program* p = bpf_object__find_program_by_name(Need(env), name.c_str());
    if (!p) ThrowErrno(env, ENOENT, "bpf_object__find_program_by_name", "no program named '" + name + "'");
    return p;
  }

  void NeedUnloaded(Napi::Env env, const char* what) {
    if (loaded_) ThrowErrno(env, EBUSY, what, "object is already loaded");
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array arr = Napi::Array::New(env);
    bpf_map* m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, Need(env)) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_map__name(m));
      o.Set("type", (double)bpf_map__type(m));
      o.Set("keySize", (double)bpf_map__key_size(m));
      o.Set("valueSize", (double)bpf_map__value_size(m));
      o.Set("maxEntries", (double)bpf_map__max_entries(m));
      o.Set("flags", (double)bpf_map__map_flags(m));
      o.Set("internal", bpf_map__is_internal(m));
      const char* pin = bpf_map__pin_path(m);
      o.Set("pinPath", pin ? Napi::Value(Napi::String::New(env, pin)) : env.Null());
      o.Set("fd", (double)(loaded_ ? bpf_map__fd(m) : -1));
      arr.Set(i++, o);
    }
    return arr;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array arr = Napi::Array::New(env);
    bpf_program* p;
    uint32_t i = 0;
    bpf_object__for_each_program(p, Need(env)) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      o.Set("type", (double)bpf_program__type(p));
      o.Set("autoload", bpf_program__autoload(p));
      arr.Set(i++, o);
    }
    return arr;
  }

  // datasecVars(".rodata") -> [{ name, offset, size }]. Offsets come from the object's BTF
  // after libbpf's open-time fixups (clang leaves them as 0 in the ELF).
  Napi::Value DatasecVars(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string sec = ArgString(info, 0, "section");
    struct btf* btf = bpf_object__btf(Need(env));
    if (!btf) ThrowErrno(env, ENOENT, "bpf_object__btf", "object has no BTF");
    int id = btf__find_by_name_kind(btf, sec.c_str(), BTF_KIND_DATASEC);
    Napi::Array arr = Napi::Array::New(env);
    if (id < 0) return arr;
    const struct btf_type* t = btf__type_by_id(btf, id);
    const struct btf_var_secinfo* v = btf_var_secinfos(t);
    for (uint16_t i = 0; i < btf_vlen(t); i++, v++) {
      const struct btf_type* var = btf__type_by_id(btf, v->type);
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", btf__name_by_offset(btf, var->name_off));
      o.Set("offset", (double)v->offset);
      o.Set("size", (double)v->size);
      arr.Set(i, o);
    }
    return arr;
  }

  // Initial value of a data section map (".rodata", ".data", ".bss") as a copy.
  Napi::Value GetInitialValue(const Napi::CallbackInfo& info) {
    bpf_map* m = FindMap(info.Env(), ArgString(info, 0, "map"));
    size_t sz = 0;
    const void* p = bpf_map__initial_value(m, &sz);
    if (!p) ThrowErrno(info.Env(), EINVAL, "bpf_map__initial_value", "map has no initial value");
    return Napi::Buffer<uint8_t>::Copy(info.Env(), static_cast<const uint8_t*>(p), sz);
  }

  Napi::Value SetInitialValue(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "map");
    NeedUnloaded(info.Env(), "bpf_map__set_initial_value");
    bpf_map* m = FindMap(info.Env(), name);
    size_t len;
    void* data = ArgBytes(info, 1, "value", &len);
    int err = bpf_map__set_initial_value(m, data, len);
    if (err) ThrowErrno(info.Env(), err, "bpf_map__set_initial_value", name);
    return info.Env().Undefined();
  }

  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "map");
    NeedUnloaded(info.Env(), "bpf_map__set_max_entries");
    int err = bpf_map__set_max_entries(FindMap(info.Env(), name), ArgU32(info, 1, "maxEntries"));
    if (err) ThrowErrno(info.Env(), err, "bpf_map__set_max_entries", name);
    return info.Env().Undefined();
  }

  // A pin path makes libbpf reuse a compatible pinned map at load (or fail if the pinned
  // map's layout differs) and pin a newly created one there.
  Napi::Value SetPinPath(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "map");
    NeedUnloaded(info.Env(), "bpf_map__set_pin_path");
    const char* path = nullptr;
    std::string p;
    if (info.Length() > 1 && info[1].IsString()) {
      p = info[1].As<Napi::String>().Utf8Value();
      path = p.c_str();
    }
    int err = bpf_map__set_pin_path(FindMap(info.Env(), name), path);
    if (err) ThrowErrno(info.Env(), err, "bpf_map__set_pin_path", name);
    return info.Env().Undefined();
  }

  Napi::Value ReuseMapFd(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "map");
    NeedUnloaded(info.Env(), "bpf_map__reuse_fd");
    int err = bpf_map__reuse_fd(FindMap(info.Env(), name), ArgInt(info, 1, "fd"));
    if (err) ThrowErrno(info.Env(), err, "bpf_map__reuse_fd", name);
    return info.Env().Undefined();
  }

  Napi::Value SetAutoload(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "program");
    NeedUnloaded(info.Env(), "bpf_program__set_autoload");
    int err = bpf_program__set_autoload(FindProg(info.Env(), name), info[1].ToBoolean());
    if (err) ThrowErrno(info.Env(), err, "bpf_program__set_autoload", name);
    return info.Env().Undefined();
  }

  // Asks the verifier for its statistics of `program` at load (log level 4, BPF_LOG_STATS: the
  // instructions it processed, each function's stack depth), kept in a buffer of the object's
  // own. Level 4 alone: the instruction log of level 1 runs to megabytes for the pipeline, and a
  // kernel refuses a load whose log did not fit (ENOSPC). The cost: a refusal's reason is not
  // logged in this mode (BpfObject.load in TypeScript loads a refused object again without it).
  Napi::Value KeepVerifierStats(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "program");
    NeedUnloaded(info.Env(), "bpf_program__set_log_buf");
    bpf_program* p = FindProg(info.Env(), name);
    std::vector<char>& buf = statsLogs_[name];
    buf.assign(64 * 1024, 0);
    int err = bpf_program__set_log_buf(p, buf.data(), buf.size());
    if (!err) err = bpf_program__set_log_level(p, 4);
    if (err) ThrowErrno(info.Env(), -err, "bpf_program__set_log_level", name);
    return info.Env().Undefined();
  }

  // The statistics kept for `program` (KeepVerifierStats before load), or null.
  Napi::Value VerifierStats(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "program");
    auto it = statsLogs_.find(name);
    if (!loaded_ || it == statsLogs_.end()) return info.Env().Null();
    return Napi::String::New(info.Env(), std::string(it->second.data(), strnlen(it->second.data(), it->second.size())));
  }

  class LoadWorker : public Napi::AsyncWorker {
   public:
    LoadWorker(Napi::Env env, BpfObject* owner, Napi::Object keepAlive)
        : Napi::AsyncWorker(env), owner_(owner), deferred_(Napi::Promise::Deferred::New(env)) {
      keep_ = Napi::Persistent(keepAlive);
    }
    Napi::Promise Promise() { return deferred_.Promise(); }

    void Execute() override {
      LibbpfLogCapture cap;
      err_ = bpf_object__load(owner_->obj_);
      log_ = cap.Take();
    }
    void OnOK() override {
      Napi::Env env = Env();
      owner_->loading_ = false;
      if (err_) {
        std::string verifier = LibbpfLogCapture::ExtractVerifierLog(log_);
        std::string firstLine = log_.substr(0, log_.find('\n'));
        Napi::Error e = ErrnoError(env, err_, "bpf_object__load", firstLine);
        e.Set("libbpfLog", log_);
        e.Set("verifierLog", verifier.empty() ? env.Null() : Napi::String::New(env, verifier));
        deferred_.Reject(e.Value());
      } else {
        owner_->loaded_ = true;
        deferred_.Resolve(env.Undefined());
      }
    }

   private:
    BpfObject* owner_;
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference keep_;
    int err_ = 0;
    std::string log_;
  };

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Need(info.Env());
    NeedUnloaded(info.Env(), "bpf_object__load");
    if (loading_) ThrowErrno(info.Env(), EBUSY, "bpf_object__load", "a load is already in progress");
    loading_ = true;
    auto* w = new LoadWorker(info.Env(), this, info.This().As<Napi::Object>());
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  Napi::Value MapFd(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "map");
    int fd = bpf_map__fd(FindMap(info.Env(), name));
    if (fd < 0) ThrowErrno(info.Env(), EBADF, "bpf_map__fd", name + " is not created (object not loaded?)");
    int d = fcntl_dup(fd);
    if (d < 0) ThrowErrno(info.Env(), errno, "dup", name);
    return NewFd(info.Env(), d, "map");
  }

  Napi::Value ProgramFd(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "program");
    int fd = bpf_program__fd(FindProg(info.Env(), name));
    if (fd < 0) ThrowErrno(info.Env(), EBADF, "bpf_program__fd", name + " is not loaded");
    int d = fcntl_dup(fd);
    if (d < 0) ThrowErrno(info.Env(), errno, "dup", name);
    return NewFd(info.Env(), d, "prog");
  }

  static int fcntl_dup(int fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, 3); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (loading_ && !loaded_) ThrowErrno(info.Env(), EBUSY, "bpf_object__close", "a load is in progress");
    Destroy();
    return info.Env().Undefined();
  }
  Napi::Value GetLoaded(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), loaded_); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), obj_ == nullptr); }

  bpf_object* obj_ = nullptr;
  // Log buffers of KeepVerifierStats, by program: libbpf writes them at load.
  std::map<std::string, std::vector<char>> statsLogs_;
  bool loaded_ = false;
  bool loading_ = false;
};

void InitObject(Napi::Env env, Napi::Object exports) { BpfObject::Init(env, exports); }

}  // namespace pw
