// Shared helpers of the native binding. The addon is a thin layer over libbpf: it converts
// arguments, calls libbpf, and throws Node-style errors. Policy lives in TypeScript.
#pragma once

#include <napi.h>
#include <string>

namespace pw {

// Build a Node-style system error: message "<syscall>: <strerror> (<CODE>)" with
// properties errno (negative, as Node's own SystemErrors), code ("EPERM", ...) and syscall.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& detail = "");

// Throw ErrnoError as a JS exception (with C++ exceptions enabled, this throws).
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail = "");

// libbpf's print callback writes into the calling thread's capture buffer when one is active.
// Loads run on libuv worker threads, so the buffer is thread-local.
class LibbpfLogCapture {
 public:
  LibbpfLogCapture();
  ~LibbpfLogCapture();
  std::string Take();
  // The verifier log that libbpf prints between its BEGIN/END PROG LOAD LOG markers.
  static std::string ExtractVerifierLog(const std::string& libbpfLog);
};
void InstallLibbpfPrint();

// bpf_obj_get_info_by_fd into `info` (`size` bytes: a bpf_map_info, bpf_prog_info or
// bpf_link_info, zeroed or with the arrays the caller asks for set), throwing on failure.
void ObjInfo(Napi::Env env, int fd, void* info, uint32_t size, const std::string& detail = "");

// A kernel object's BTF by its id, for the caller to btf__free; throws on failure.
struct btf* KernelBtf(Napi::Env env, uint32_t id);

// Argument helpers: each throws a TypeError that names the argument.
int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name);
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
// A Buffer or any TypedArray/DataView; returns data pointer and byte length.
void* ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* len);
void* BytesOf(Napi::Env env, Napi::Value v, const char* name, size_t* len);

// Module init hooks, one per source file.
void InitFd(Napi::Env env, Napi::Object exports);
void InitObject(Napi::Env env, Napi::Object exports);
void InitMaps(Napi::Env env, Napi::Object exports);
void InitMmap(Napi::Env env, Napi::Object exports);
void InitAttach(Napi::Env env, Napi::Object exports);
void InitRingbuf(Napi::Env env, Napi::Object exports);
void InitTestRun(Napi::Env env, Napi::Object exports);
void InitMisc(Napi::Env env, Napi::Object exports);
void InitPcap(Napi::Env env, Napi::Object exports);
void InitProgLoad(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);
void InitEthtool(Napi::Env env, Napi::Object exports);
void InitBtfLayout(Napi::Env env, Napi::Object exports);
void InitProber(Napi::Env env, Napi::Object exports);
void InitScan(Napi::Env env, Napi::Object exports);
void InitMaglev(Napi::Env env, Napi::Object exports);

// Wrap a raw fd (ownership transfers to the returned JS object).
Napi::Object NewFd(Napi::Env env, int fd, const std::string& kind);

}  // namespace pw
