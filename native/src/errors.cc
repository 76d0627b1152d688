#include <bpf/libbpf.h>
#include <uv.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common.h"

namespace pw {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  if (err < 0) err = -err;
  if (err == 0) err = EINVAL;
  const char* code = uv_err_name(-err);
  std::string msg = std::string(syscall) + ": " + strerror(err) + " (" + code + ")";
  if (!detail.empty()) msg += ": " + detail;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  throw ErrnoError(env, err, syscall, detail);
}

static thread_local std::string* tl_capture = nullptr;

static int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (tl_capture) {
    char buf[4096];
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(buf, sizeof(buf), fmt, copy);
    va_end(copy);
    if (n >= (int)sizeof(buf)) {
      // Verifier logs arrive as one long string; format again at full size.
      std::string big(n + 1, '\0');
      vsnprintf(&big[0], big.size(), fmt, args);
      big.resize(n);
      tl_capture->append(big);
    } else if (n > 0) {
      tl_capture->append(buf, n);
    }
    return n;
  }
  // Outside a capture, only debug builds see libbpf's chatter.
  static const bool debug = getenv("PATHWISE_LIBBPF_DEBUG") != nullptr;
  if (!debug && level == LIBBPF_DEBUG) return 0;
  if (!debug) return 0;
  return vfprintf(stderr, fmt, args);
}

void InstallLibbpfPrint() { libbpf_set_print(LibbpfPrint); }

LibbpfLogCapture::LibbpfLogCapture() { tl_capture = new std::string(); }
LibbpfLogCapture::~LibbpfLogCapture() {
  delete tl_capture;
  tl_capture = nullptr;
}
std::string LibbpfLogCapture::Take() {
  std::string s = tl_capture ? *tl_capture : std::string();
  if (tl_capture) tl_capture->clear();
  return s;
}

std::string LibbpfLogCapture::ExtractVerifierLog(const std::string& log) {
  static const char* kBegin = "-- BEGIN PROG LOAD LOG --";
  static const char* kEnd = "-- END PROG LOAD LOG --";
  size_t b = log.find(kBegin);
  if (b == std::string::npos) return "";
  b += strlen(kBegin);
  if (b < log.size() && log[b] == '\n') b++;
  size_t e = log.find(kEnd, b);
  return log.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string("argument '") + name + "' must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string("argument '") + name + "' must be a number");
  return info[i].As<Napi::Number>().Uint32Value();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string("argument '") + name + "' must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

void* BytesOf(Napi::Env env, Napi::Value v, const char* name, size_t* len) {
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    *len = ta.ByteLength();
    return static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  }
  if (v.IsDataView()) {
    Napi::DataView dv = v.As<Napi::DataView>();
    *len = dv.ByteLength();
    return static_cast<uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
    *len = ab.ByteLength();
    return ab.Data();
  }
  throw Napi::TypeError::New(env, std::string("argument '") + name + "' must be a Buffer or TypedArray");
}

void* ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* len) {
  if (i >= info.Length())
    throw Napi::TypeError::New(info.Env(), std::string("argument '") + name + "' is missing");
  return BytesOf(info.Env(), info[i], name, len);
}

}  // namespace pw
