// BPF_PROG_TEST_RUN: run a loaded program on a given packet (and context), optionally many
// times, and get the verdict, the output packet and the mean duration. With
// BPF_F_TEST_XDP_LIVE_FRAMES the kernel sends XDP_TX/REDIRECT results for real, which makes
// it a traffic generator. testRun() runs on a worker thread; testRunSync() on the caller's
// (for short runs where a thread hop costs more than the run).
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common.h"

namespace pw {

struct RunArgs {
  int progFd = -1;
  std::vector<uint8_t> dataIn, ctxIn;
  size_t dataOutSize = 0, ctxOutSize = 0;
  bool hasData = false, hasCtx = false;
  uint32_t repeat = 0, flags = 0, batchSize = 0, cpu = 0;
  // results
  std::vector<uint8_t> dataOut, ctxOut;
  uint32_t retval = 0, duration = 0;
  int err = 0;
};

static void ParseArgs(const Napi::CallbackInfo& info, RunArgs& a) {
  Napi::Env env = info.Env();
  a.progFd = ArgInt(info, 0, "progFd");
  if (info.Length() < 2 || !info[1].IsObject()) return;
  Napi::Object o = info[1].As<Napi::Object>();
  auto u32 = [&](const char* k, uint32_t def) {
    Napi::Value v = o.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
  };
  size_t len;
  if (o.Has("data") && !o.Get("data").IsUndefined()) {
    auto* p = static_cast<uint8_t*>(BytesOf(env, o.Get("data"), "data", &len));
    a.dataIn.assign(p, p + len);
    a.hasData = true;
  }
  if (o.Has("ctx") && !o.Get("ctx").IsUndefined()) {
    auto* p = static_cast<uint8_t*>(BytesOf(env, o.Get("ctx"), "ctx", &len));
    a.ctxIn.assign(p, p + len);
    a.hasCtx = true;
  }
  a.repeat = u32("repeat", 0);
  a.flags = u32("flags", 0);
  a.batchSize = u32("batchSize", 0);
  a.cpu = u32("cpu", 0);
  bool live = a.flags & BPF_F_TEST_XDP_LIVE_FRAMES;
  // XDP programs may grow the packet at the head or tail; leave room so the kernel's copy-out
  // doesn't fail with ENOSPC. Live frames mode has no output.
  a.dataOutSize = live ? 0 : u32("dataOutSize", (uint32_t)a.dataIn.size() + 512);
  a.ctxOutSize = live || !a.hasCtx ? 0 : u32("ctxOutSize", (uint32_t)a.ctxIn.size());
}

static void Execute(RunArgs& a) {
  a.dataOut.resize(a.dataOutSize);
  a.ctxOut.resize(a.ctxOutSize);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  if (a.hasData) {
    opts.data_in = a.dataIn.data();
    opts.data_size_in = a.dataIn.size();
  }
  if (a.dataOutSize) {
    opts.data_out = a.dataOut.data();
    opts.data_size_out = a.dataOutSize;
  }
  if (a.hasCtx) {
    opts.ctx_in = a.ctxIn.data();
    opts.ctx_size_in = a.ctxIn.size();
  }
  if (a.ctxOutSize) {
    opts.ctx_out = a.ctxOut.data();
    opts.ctx_size_out = a.ctxOutSize;
  }
  opts.repeat = a.repeat;
  opts.flags = a.flags;
  opts.batch_size = a.batchSize;
  opts.cpu = a.cpu;
  if (bpf_prog_test_run_opts(a.progFd, &opts)) {
    a.err = errno;
    return;
  }
  a.retval = opts.retval;
  a.duration = opts.duration;
  a.dataOut.resize(a.dataOutSize ? opts.data_size_out : 0);
  a.ctxOut.resize(a.ctxOutSize ? opts.ctx_size_out : 0);
}

static Napi::Object Result(Napi::Env env, RunArgs& a) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("retval", (double)a.retval);
  r.Set("duration", (double)a.duration);
  r.Set("data", a.dataOutSize ? Napi::Value(Napi::Buffer<uint8_t>::Copy(env, a.dataOut.data(), a.dataOut.size()))
                              : env.Null());
  r.Set("ctx", a.ctxOutSize ? Napi::Value(Napi::Buffer<uint8_t>::Copy(env, a.ctxOut.data(), a.ctxOut.size()))
                            : env.Null());
  return r;
}

class TestRunWorker : public Napi::AsyncWorker {
 public:
  TestRunWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  RunArgs args;
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { pw::Execute(args); }
  void OnOK() override {
    if (args.err) deferred_.Reject(ErrnoError(Env(), args.err, "bpf_prog_test_run_opts").Value());
    else deferred_.Resolve(Result(Env(), args));
  }

 private:
  Napi::Promise::Deferred deferred_;
};

static Napi::Value TestRun(const Napi::CallbackInfo& info) {
  auto* w = new TestRunWorker(info.Env());
  try {
    ParseArgs(info, w->args);
  } catch (...) {
    delete w;
    throw;
  }
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

static Napi::Value TestRunSync(const Napi::CallbackInfo& info) {
  RunArgs a;
  ParseArgs(info, a);
  Execute(a);
  if (a.err) ThrowErrno(info.Env(), a.err, "bpf_prog_test_run_opts");
  return Result(info.Env(), a);
}

// The online CPUs, from /sys/devices/system/cpu/online ("0-3,5,7-8").
static std::vector<int> OnlineCpus(Napi::Env env) {
  std::ifstream f("/sys/devices/system/cpu/online");
  std::string text;
  if (!f || !std::getline(f, text)) ThrowErrno(env, errno ? errno : EIO, "read", "/sys/devices/system/cpu/online");
  std::vector<int> cpus;
  const char* p = text.c_str();
  while (*p) {
    char* end;
    long lo = strtol(p, &end, 10), hi = lo;
    if (end == p) break;
    if (*end == '-') {
      p = end + 1;
      hi = strtol(p, &end, 10);
      if (end == p) break;
    }
    for (long c = lo; c <= hi && c < CPU_SETSIZE; c++) cpus.push_back((int)c);
    p = *end == ',' ? end + 1 : end;
    if (*end != ',') break;
  }
  if (cpus.empty()) ThrowErrno(env, EINVAL, "parse", "/sys/devices/system/cpu/online: " + text);
  return cpus;
}

// testRunOnCpus(progFd, opts, cpus?): one run on each given CPU (default: every online one),
// the calling thread moved to each in turn and then given back its own CPU set. A per-CPU
// map's values are the running CPU's: this is how the control plane reaches each CPU's. A CPU
// the thread may not move to (a cpuset that excludes it) is reported in `skipped`.
static Napi::Value TestRunOnCpus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RunArgs a;
  ParseArgs(info, a);
  std::vector<int> cpus;
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array list = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) cpus.push_back(list.Get(i).As<Napi::Number>().Int32Value());
  } else {
    cpus = OnlineCpus(env);
  }
  cpu_set_t own;
  if (sched_getaffinity(0, sizeof(own), &own)) ThrowErrno(env, errno, "sched_getaffinity");
  Napi::Array runs = Napi::Array::New(env), skipped = Napi::Array::New(env);
  int err = 0;
  for (int cpu : cpus) {
    cpu_set_t one;
    CPU_ZERO(&one);
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
      skipped.Set(skipped.Length(), cpu);
      continue;
    }
    CPU_SET(cpu, &one);
    // The kernel moves the thread before the call returns; sched_getcpu() confirms it.
    if (sched_setaffinity(0, sizeof(one), &one) || sched_getcpu() != cpu) {
      skipped.Set(skipped.Length(), cpu);
      continue;
    }
    Execute(a);
    if (a.err) {
      err = a.err;
      break;
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("cpu", cpu);
    r.Set("retval", (double)a.retval);
    r.Set("duration", (double)a.duration);
    runs.Set(runs.Length(), r);
  }
  int restoreErr = sched_setaffinity(0, sizeof(own), &own) ? errno : 0;
  if (err) ThrowErrno(env, err, "bpf_prog_test_run_opts");
  if (restoreErr) ThrowErrno(env, restoreErr, "sched_setaffinity", "restoring the thread's CPU set");
  Napi::Object out = Napi::Object::New(env);
  out.Set("runs", runs);
  out.Set("skipped", skipped);
  return out;
}

void InitTestRun(Napi::Env env, Napi::Object exports) {
  exports.Set("testRun", Napi::Function::New(env, TestRun));
  exports.Set("testRunSync", Napi::Function::New(env, TestRunSync));
  exports.Set("testRunOnCpus", Napi::Function::New(env, TestRunOnCpus));
}

}  // namespace pw
