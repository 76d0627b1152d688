// mmap of a BPF_F_MMAPABLE array into an ArrayBuffer that TypeScript reads and writes directly
// (the FIB's big first-level table is written at memory speed this way).
//
// Lifetime: the mapping is shared by the ArrayBuffer (its finalizer) and the Mmap handle
// (close()). close() detaches the ArrayBuffer first, so no JS view can touch unmapped memory,
// then unmaps; whichever side goes last frees the bookkeeping.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "common.h"

namespace pw {

struct Mapping {
  void* addr = nullptr;
  size_t len = 0;
  ~Mapping() { Unmap(); }
  void Unmap() {
    if (addr) {
      munmap(addr, len);
      addr = nullptr;
    }
  }
};

class Mmap : public Napi::ObjectWrap<Mmap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "Mmap",
                                   {
                                       InstanceAccessor<&Mmap::GetBuffer>("buffer"),
                                       InstanceAccessor<&Mmap::GetLength>("length"),
                                       InstanceMethod<&Mmap::Close>("close"),
                                   });
    exports.Set("Mmap", f);
  }

  // new Mmap(fd, length, writable)
  Mmap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mmap>(info) {
    Napi::Env env = info.Env();
    int fd = ArgInt(info, 0, "fd");
    double len = info[1].As<Napi::Number>().DoubleValue();
    bool writable = info.Length() < 3 || info[2].ToBoolean();
    if (len <= 0) throw Napi::RangeError::New(env, "mmap length must be positive");
    long page = sysconf(_SC_PAGESIZE);
    size_t rounded = ((size_t)len + page - 1) / page * page;
    // No MAP_POPULATE: it made every open touch every page of every table (~250 MiB with the
    // FIBs, mostly unused), ~80 ms per open here, and a first write to a page cost the same
    // with it as without (measured by bench-style fills of the IPv6 nodes).
    void* p = mmap(nullptr, rounded, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap", "map must be a BPF_F_MMAPABLE array");
    mapping_ = std::make_shared<Mapping>();
    mapping_->addr = p;
    mapping_->len = rounded;
    auto* hint = new std::shared_ptr<Mapping>(mapping_);
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, p, (size_t)len, [](Napi::Env, void*, std::shared_ptr<Mapping>* h) { delete h; }, hint);
    buffer_ = Napi::Persistent(ab);
  }

 private:
  Napi::Value GetBuffer(const Napi::CallbackInfo& info) {
    if (!mapping_ || !mapping_->addr) ThrowErrno(info.Env(), EBADF, "mmap", "mapping is closed");
    return buffer_.Value();
  }
  Napi::Value GetLength(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), mapping_ && mapping_->addr ? (double)mapping_->len : 0);
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (mapping_ && mapping_->addr) {
      Napi::ArrayBuffer ab = buffer_.Value();
      if (!ab.IsDetached()) ab.Detach();
      mapping_->Unmap();
    }
    buffer_.Reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Mapping> mapping_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
};

void InitMmap(Napi::Env env, Napi::Object exports) { Mmap::Init(env, exports); }

}  // namespace pw
