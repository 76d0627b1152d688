// Fd: the one owner of a kernel file descriptor handed to JavaScript (a map, program, link or
// pinned object). close() is idempotent; the GC finalizer closes what was not closed.
#include <unistd.h>

#include "common.h"

namespace pw {

class Fd : public Napi::ObjectWrap<Fd> {
 public:
  static Napi::FunctionReference ctor;

  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "Fd",
                                   {
                                       InstanceAccessor<&Fd::GetFd>("fd"),
                                       InstanceAccessor<&Fd::GetKind>("kind"),
                                       InstanceAccessor<&Fd::GetClosed>("closed"),
                                       InstanceMethod<&Fd::Close>("close"),
                                   });
    ctor = Napi::Persistent(f);
    exports.Set("Fd", f);
  }

  // new Fd(fd, kind) is used by the addon only; JS receives Fd objects from other calls.
  Fd(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Fd>(info) {
    fd_ = ArgInt(info, 0, "fd");
    kind_ = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "fd";
  }
  ~Fd() override { CloseFd(); }

 private:
  void CloseFd() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  Napi::Value GetFd(const Napi::CallbackInfo& info) {
    if (fd_ < 0) ThrowErrno(info.Env(), EBADF, "fd", kind_ + " is closed");
    return Napi::Number::New(info.Env(), fd_);
  }
  Napi::Value GetKind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kind_); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseFd();
    return info.Env().Undefined();
  }

  int fd_ = -1;
  std::string kind_;
};

Napi::FunctionReference Fd::ctor;

Napi::Object NewFd(Napi::Env env, int fd, const std::string& kind) {
  return Fd::ctor.New({Napi::Number::New(env, fd), Napi::String::New(env, kind)});
}

void InitFd(Napi::Env env, Napi::Object exports) { Fd::Init(env, exports); }

}  // namespace pw
